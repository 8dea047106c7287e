/* static_conf.c - the keys of a [static MATCH] section: parsers, dumpers, defaults. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "handlers/compress.h"
#include "handlers/static_compress.h"
#include "handlers/conf.h"
#include "handlers/static_internal.h"

void static_parse_root(struct conf_io *io, const struct key_spec *key, void *obj, const char *value)
{
    struct stat st;
    char *path;

    if (!*value) {
        conf_error(io, "'%s' needs a value", key->name);
        return;
    }
    path = conf_path(io, key->name, value);
    if (!path)
        return;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            conf_error(io, "%s '%s' does not exist", key->name, path);
        else
            conf_error(io, "%s '%s': %s", key->name, path, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        conf_error(io, "%s '%s' is not a directory", key->name, path);
        return;
    }
    conf_set_string(obj, key, path);
}

static int index_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct static_conf *sc = obj;

    if (memchr(w, '/', len) || (len == 1 && w[0] == '.') || (len == 2 && !memcmp(w, "..", 2))) {
        conf_error(io, "index name '%.*s' must be a plain file name", (int)len, w);
        return -1;
    }
    if (sc->n_index == STATIC_MAX_INDEX) {
        conf_error(io, "index lists more than %d names", STATIC_MAX_INDEX);
        return -1;
    }
    sc->index[sc->n_index] = conf_strndup(io, w, len);
    if (!sc->index[sc->n_index])
        return -1;
    sc->n_index++;
    return 0;
}

static void parse_index(struct conf_io *io, const struct key_spec *key, void *obj,
                        const char *value)
{
    struct static_conf *sc = obj;

    (void)key;
    sc->n_index = 0;
    conf_for_each_word(io, value, obj, index_word);
}

static void dump_index(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct static_conf *sc = obj;

    fprintf(out, "%s =", key->name);
    for (size_t i = 0; i < sc->n_index; i++)
        fprintf(out, " %s", sc->index[i]);
    fputc('\n', out);
}

static int precompressed_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct static_conf *sc = obj;
    enum static_encoding enc;

    if (len == 2 && memcmp(w, "br", 2) == 0)
        enc = STATIC_ENCODING_BR;
    else if (len == 2 && memcmp(w, "gz", 2) == 0)
        enc = STATIC_ENCODING_GZIP;
    else {
        conf_error(io, "unknown encoding '%.*s' in precompressed (br, gz)", (int)len, w);
        return -1;
    }
    for (size_t i = 0; i < sc->n_precompressed; i++) {
        if (sc->precompressed[i] == enc) {
            conf_error(io, "encoding '%.*s' is listed twice in precompressed", (int)len, w);
            return -1;
        }
    }
    sc->precompressed[sc->n_precompressed++] = enc;
    return 0;
}

static void parse_precompressed(struct conf_io *io, const struct key_spec *key, void *obj,
                                const char *value)
{
    struct static_conf *sc = obj;

    (void)key;
    sc->n_precompressed = 0;
    conf_for_each_word(io, value, obj, precompressed_word);
}

static void dump_precompressed(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct static_conf *sc = obj;

    fprintf(out, "%s =", key->name);
    for (size_t i = 0; i < sc->n_precompressed; i++)
        fprintf(out, " %s", sc->precompressed[i] == STATIC_ENCODING_BR ? "br" : "gz");
    fputc('\n', out);
}

static const char try_and_fallback[] =
    "fallback and try exclude each other: give the fallback as try's last candidate";

static void parse_fallback(struct conf_io *io, const struct key_spec *key, void *obj,
                           const char *value)
{
    if (!*value) {
        conf_set_string(obj, key, NULL);
        return;
    }
    if (((struct static_conf *)obj)->n_try) {
        conf_error(io, "%s", try_and_fallback);
        return;
    }
    if (!conf_url_path_ok(value)) {
        conf_error(io, "fallback '%s' must be a plain path starting with '/'", value);
        return;
    }
    conf_set_string(obj, key, conf_strdup(io, value));
}

/* A try candidate: "=STATUS" (last), or a path template starting with '/'
 * or "{path}", plain once "{path}" stands for a path. */
static int try_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct static_conf *sc = obj;
    char probe[512];
    size_t n = 0;

    if (sc->try_status) {
        conf_error(io, "try: '=%d' must be the last candidate", sc->try_status);
        return -1;
    }
    if (w[0] == '=') {
        int v = len == 4 ? 0 : -1;

        for (size_t i = 1; v >= 0 && i < len; i++)
            v = w[i] >= '0' && w[i] <= '9' ? v * 10 + (w[i] - '0') : -1;
        if (v < 400 || v > 599 || sc->n_try == 0) {
            conf_error(io, "try: '%.*s' is not a last candidate =STATUS (400 to 599) after paths",
                       (int)len, w);
            return -1;
        }
        sc->try_status = v;
        return 0;
    }
    for (size_t i = 0; i < len && n + 3 < sizeof probe; i++) {
        bool var = len - i >= 6 && memcmp(w + i, "{path}", 6) == 0;

        probe[n++] = var ? '/' : w[i];
        if (var) {
            probe[n++] = 'p';
            i += 5;
        }
    }
    probe[n] = '\0';
    if (n + 3 >= sizeof probe || !conf_url_path_ok(probe) || strpbrk(probe, "{}")) {
        conf_error(io,
                   "try: '%.*s' is not a path below the root ({path}, {path}.html, /index.html)",
                   (int)len, w);
        return -1;
    }
    if (sc->n_try == STATIC_MAX_TRY) {
        conf_error(io, "try lists more than %d candidates", STATIC_MAX_TRY);
        return -1;
    }
    sc->try_paths[sc->n_try] = conf_strndup(io, w, len);
    return sc->try_paths[sc->n_try++] ? 0 : -1;
}

static void parse_try(struct conf_io *io, const struct key_spec *key, void *obj, const char *value)
{
    struct static_conf *sc = obj;

    (void)key;
    sc->n_try = 0;
    sc->try_status = 0;
    if (!*value)
        return;
    if (sc->fallback) {
        conf_error(io, "%s", try_and_fallback);
        return;
    }
    conf_for_each_word(io, value, obj, try_word);
}

static void dump_try(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct static_conf *sc = obj;

    fprintf(out, "%s =", key->name);
    for (size_t i = 0; i < sc->n_try; i++)
        fprintf(out, " %s", sc->try_paths[i]);
    if (sc->try_status)
        fprintf(out, " =%d", sc->try_status);
    fputc('\n', out);
}

/* Headers the HTTP engine writes itself; configuring them would break framing. */
static bool header_reserved(const char *name, size_t len)
{
    static const char *const reserved[] = {"connection", "content-length",   "date",
                                           "keep-alive", "proxy-connection", "server",
                                           "te",         "trailer",          "transfer-encoding",
                                           "upgrade"};

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        size_t j = 0;

        if (strlen(reserved[i]) != len)
            continue;
        while (j < len && conf_lower(name[j]) == reserved[i][j])
            j++;
        if (j == len)
            return true;
    }
    return false;
}

static void parse_header(struct conf_io *io, const struct key_spec *key, void *obj,
                         const char *value)
{
    struct static_conf *sc = obj;
    const char *colon = strchr(value, ':'), *v;
    size_t name_len;

    (void)key;
    if (!colon) {
        conf_error(io, "header '%s' is not 'Name: value'", value);
        return;
    }
    name_len = (size_t)(colon - value);
    for (v = colon + 1; conf_blank(*v); v++)
        ;
    if (!conf_is_token(value, name_len)) {
        conf_error(io, "header name '%.*s' is not a valid token", (int)name_len, value);
    } else if (!*v || !conf_header_value_ok(v)) {
        conf_error(io, "header '%.*s' needs a value without control characters", (int)name_len,
                   value);
    } else if (header_reserved(value, name_len)) {
        conf_error(io, "header '%.*s' is set by cohttpd itself and cannot be configured",
                   (int)name_len, value);
    } else if (sc->n_headers == STATIC_MAX_HEADERS) {
        conf_error(io, "too many headers (at most %d per route)", STATIC_MAX_HEADERS);
    } else {
        sc->headers[sc->n_headers++] =
            (struct conf_header){.name = conf_strndup(io, value, name_len),
                                 .name_len = name_len,
                                 .value = conf_strdup(io, v),
                                 .value_len = strlen(v)};
    }
}

static void dump_headers(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct static_conf *sc = obj;

    for (size_t i = 0; i < sc->n_headers; i++)
        fprintf(out, "%s = %s: %s\n", key->name, sc->headers[i].name, sc->headers[i].value);
}

static int compress_type_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct static_conf *sc = obj;
    const char *slash = memchr(w, '/', len);

    if (!slash || slash == w || slash == w + len - 1) {
        conf_error(io, "compress_types entry '%.*s' is not a MIME type (text/html, text/*)",
                   (int)len, w);
        return -1;
    }
    if (sc->n_compress_types == STATIC_MAX_COMPRESS_TYPES) {
        conf_error(io, "compress_types lists more than %d types", STATIC_MAX_COMPRESS_TYPES);
        return -1;
    }
    sc->compress_types[sc->n_compress_types] = conf_strndup(io, w, len);
    if (!sc->compress_types[sc->n_compress_types])
        return -1;
    sc->n_compress_types++;
    return 0;
}

static void parse_compress_types(struct conf_io *io, const struct key_spec *key, void *obj,
                                 const char *value)
{
    (void)key;
    ((struct static_conf *)obj)->n_compress_types = 0;
    conf_for_each_word(io, value, obj, compress_type_word);
}

static void dump_compress_types(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct static_conf *sc = obj;

    fprintf(out, "%s =", key->name);
    for (size_t i = 0; i < sc->n_compress_types; i++)
        fprintf(out, " %s", sc->compress_types[i]);
    fputc('\n', out);
}

static const char *const coding_names[STATIC_ENCODINGS] = {"br", "gzip", "zstd"};

/* "gzip:6", "br:5", "zstd:3": one coding's level. */
static int compress_level_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct static_conf *sc = obj;
    const char *colon = memchr(w, ':', len);

    for (int e = 0; colon && e < STATIC_ENCODINGS; e++) {
        size_t n = strlen(coding_names[e]);
        long level = 0;
        size_t i = n + 1;

        if ((size_t)(colon - w) != n || memcmp(w, coding_names[e], n) != 0)
            continue;
        for (; i < len && i < n + 3 && w[i] >= '0' && w[i] <= '9'; i++)
            level = level * 10 + (w[i] - '0');
        if (i != len || i == n + 1 || level < 1 || level > compress_level_max(e)) {
            conf_error(io, "compress_level '%.*s': %s takes a level from 1 to %d", (int)len, w,
                       coding_names[e], compress_level_max(e));
            return -1;
        }
        sc->compress_level[e] = (int)level;
        return 0;
    }
    conf_error(io, "compress_level '%.*s' is not CODING:LEVEL (gzip:6 br:5 zstd:3)", (int)len, w);
    return -1;
}

static void parse_compress_level(struct conf_io *io, const struct key_spec *key, void *obj,
                                 const char *value)
{
    (void)key;
    conf_for_each_word(io, value, obj, compress_level_word);
}

static void dump_compress_level(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct static_conf *sc = obj;

    fprintf(out, "%s = gzip:%d br:%d zstd:%d\n", key->name,
            sc->compress_level[STATIC_ENCODING_GZIP], sc->compress_level[STATIC_ENCODING_BR],
            sc->compress_level[STATIC_ENCODING_ZSTD]);
}

static const struct enum_name dotfiles_names[] = {
    {.name = "deny", .value = STATIC_DOTFILES_DENY},
    {.name = "allow", .value = STATIC_DOTFILES_ALLOW},
    {.name = NULL},
};

static const struct key_spec static_keys[] = {
    {.name = "root",
     .type = VT_CUSTOM,
     .offset = offsetof(struct static_conf, root),
     .required = true,
     .parse = static_parse_root,
     .dump = conf_dump_string},
    {.name = "index", .type = VT_CUSTOM, .parse = parse_index, .dump = dump_index},
    {.name = "autoindex",
     .type = VT_BOOL,
     .offset = offsetof(struct static_conf, autoindex),
     .width = sizeof(bool)},
    {.name = "dotfiles",
     .type = VT_ENUM,
     .offset = offsetof(struct static_conf, dotfiles),
     .width = sizeof(enum static_dotfiles),
     .names = dotfiles_names},
    {.name = "precompressed",
     .type = VT_CUSTOM,
     .parse = parse_precompressed,
     .dump = dump_precompressed},
    {.name = "cache_control",
     .type = VT_TEXT,
     .offset = offsetof(struct static_conf, cache_control)},
    {.name = "fallback",
     .type = VT_CUSTOM,
     .offset = offsetof(struct static_conf, fallback),
     .parse = parse_fallback,
     .dump = conf_dump_string},
    {.name = "header",
     .type = VT_CUSTOM,
     .repeatable = true,
     .parse = parse_header,
     .dump = dump_headers},
    {.name = "try", .type = VT_CUSTOM, .parse = parse_try, .dump = dump_try},
    {.name = "compress",
     .type = VT_BOOL,
     .offset = offsetof(struct static_conf, compress),
     .width = sizeof(bool)},
    {.name = "compress_types",
     .type = VT_CUSTOM,
     .parse = parse_compress_types,
     .dump = dump_compress_types},
    {.name = "compress_min_size",
     .type = VT_SIZE,
     .offset = offsetof(struct static_conf, compress_min_size),
     .width = sizeof(uint64_t),
     .min = 0,
     .max = STATIC_COMPRESS_MAX_INPUT},
    {.name = "compress_cache_size",
     .type = VT_SIZE,
     .offset = offsetof(struct static_conf, compress_cache_size),
     .width = sizeof(uint64_t),
     .min = 0,
     .max = 1024ull * 1024 * 1024},
    {.name = "compress_level",
     .type = VT_CUSTOM,
     .parse = parse_compress_level,
     .dump = dump_compress_level},
};

const struct section_spec static_schema = {.keys = static_keys,
                                           .n_keys = sizeof static_keys / sizeof static_keys[0]};
_Static_assert(sizeof static_keys / sizeof static_keys[0] <= SECTION_MAX_KEYS, "key_line");

void static_conf_defaults(void *conf)
{
    struct static_conf *sc = conf;

    *sc = (struct static_conf){
        .index = {"index.html"},
        .n_index = 1,
        .dotfiles = STATIC_DOTFILES_DENY,
        .precompressed = {STATIC_ENCODING_BR, STATIC_ENCODING_GZIP},
        .n_precompressed = 2,
        .compress_min_size = 256,
        .compress_cache_size = 16u * 1024 * 1024,
        .compress_level = {[STATIC_ENCODING_GZIP] = COMPRESS_GZIP_LEVEL,
                           [STATIC_ENCODING_BR] = COMPRESS_BR_LEVEL,
                           [STATIC_ENCODING_ZSTD] = COMPRESS_ZSTD_LEVEL},
    };
    _Static_assert(COMPRESS_N_DEFAULT_TYPES <= STATIC_MAX_COMPRESS_TYPES, "compress_types");
    memcpy(sc->compress_types, compress_default_types, sizeof compress_default_types);
    sc->n_compress_types = COMPRESS_N_DEFAULT_TYPES;
}
