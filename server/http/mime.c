/* mime.c - the MIME type table: built-in types, mime.types, [mime] overrides; a hash lookup. */
#include "http/mime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIME_DEFAULT  "application/octet-stream"
#define MIME_CHARSET  "; charset=utf-8"
#define MIME_TYPE_MAX 255  /* longest type accepted, parameters included */
#define MIME_LINE_MAX 1024 /* longest mime.types line; longer ones are skipped */

struct mime_builtin {
    const char *ext;
    const char *type;
};

static const struct mime_builtin mime_builtins[] = {
    /* text and the web */
    {.ext = "html", .type = "text/html"},
    {.ext = "htm", .type = "text/html"},
    {.ext = "shtml", .type = "text/html"},
    {.ext = "xhtml", .type = "application/xhtml+xml"},
    {.ext = "css", .type = "text/css"},
    {.ext = "js", .type = "text/javascript"},
    {.ext = "mjs", .type = "text/javascript"},
    {.ext = "json", .type = "application/json"},
    {.ext = "jsonld", .type = "application/ld+json"},
    {.ext = "map", .type = "application/json"},
    {.ext = "webmanifest", .type = "application/manifest+json"},
    {.ext = "xml", .type = "application/xml"},
    {.ext = "xsl", .type = "application/xml"},
    {.ext = "rss", .type = "application/rss+xml"},
    {.ext = "atom", .type = "application/atom+xml"},
    {.ext = "txt", .type = "text/plain"},
    {.ext = "text", .type = "text/plain"},
    {.ext = "log", .type = "text/plain"},
    {.ext = "md", .type = "text/markdown"},
    {.ext = "markdown", .type = "text/markdown"},
    {.ext = "csv", .type = "text/csv"},
    {.ext = "tsv", .type = "text/tab-separated-values"},
    {.ext = "ics", .type = "text/calendar"},
    {.ext = "vcf", .type = "text/vcard"},
    {.ext = "vtt", .type = "text/vtt"},
    {.ext = "yaml", .type = "application/yaml"},
    {.ext = "yml", .type = "application/yaml"},
    {.ext = "wasm", .type = "application/wasm"},
    /* images */
    {.ext = "svg", .type = "image/svg+xml"},
    {.ext = "png", .type = "image/png"},
    {.ext = "apng", .type = "image/apng"},
    {.ext = "jpg", .type = "image/jpeg"},
    {.ext = "jpeg", .type = "image/jpeg"},
    {.ext = "jpe", .type = "image/jpeg"},
    {.ext = "gif", .type = "image/gif"},
    {.ext = "webp", .type = "image/webp"},
    {.ext = "avif", .type = "image/avif"},
    {.ext = "heic", .type = "image/heic"},
    {.ext = "jxl", .type = "image/jxl"},
    {.ext = "ico", .type = "image/vnd.microsoft.icon"},
    {.ext = "cur", .type = "image/x-icon"},
    {.ext = "bmp", .type = "image/bmp"},
    {.ext = "tif", .type = "image/tiff"},
    {.ext = "tiff", .type = "image/tiff"},
    {.ext = "psd", .type = "image/vnd.adobe.photoshop"},
    /* fonts */
    {.ext = "woff", .type = "font/woff"},
    {.ext = "woff2", .type = "font/woff2"},
    {.ext = "ttf", .type = "font/ttf"},
    {.ext = "otf", .type = "font/otf"},
    {.ext = "eot", .type = "application/vnd.ms-fontobject"},
    /* audio */
    {.ext = "mp3", .type = "audio/mpeg"},
    {.ext = "wav", .type = "audio/wav"},
    {.ext = "flac", .type = "audio/flac"},
    {.ext = "m4a", .type = "audio/mp4"},
    {.ext = "aac", .type = "audio/aac"},
    {.ext = "oga", .type = "audio/ogg"},
    {.ext = "ogg", .type = "audio/ogg"},
    {.ext = "opus", .type = "audio/ogg"},
    {.ext = "mid", .type = "audio/midi"},
    {.ext = "midi", .type = "audio/midi"},
    /* video */
    {.ext = "mp4", .type = "video/mp4"},
    {.ext = "m4v", .type = "video/mp4"},
    {.ext = "webm", .type = "video/webm"},
    {.ext = "ogv", .type = "video/ogg"},
    {.ext = "mpg", .type = "video/mpeg"},
    {.ext = "mpeg", .type = "video/mpeg"},
    {.ext = "mov", .type = "video/quicktime"},
    {.ext = "avi", .type = "video/x-msvideo"},
    {.ext = "mkv", .type = "video/x-matroska"},
    {.ext = "3gp", .type = "video/3gpp"},
    {.ext = "ts", .type = "video/mp2t"},
    {.ext = "m3u8", .type = "application/vnd.apple.mpegurl"},
    {.ext = "mpd", .type = "application/dash+xml"},
    /* documents */
    {.ext = "pdf", .type = "application/pdf"},
    {.ext = "rtf", .type = "application/rtf"},
    {.ext = "epub", .type = "application/epub+zip"},
    {.ext = "doc", .type = "application/msword"},
    {.ext = "xls", .type = "application/vnd.ms-excel"},
    {.ext = "ppt", .type = "application/vnd.ms-powerpoint"},
    {.ext = "docx",
     .type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {.ext = "xlsx", .type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {.ext = "pptx",
     .type = "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {.ext = "odt", .type = "application/vnd.oasis.opendocument.text"},
    {.ext = "ods", .type = "application/vnd.oasis.opendocument.spreadsheet"},
    {.ext = "odp", .type = "application/vnd.oasis.opendocument.presentation"},
    {.ext = "odg", .type = "application/vnd.oasis.opendocument.graphics"},
    {.ext = "ps", .type = "application/postscript"},
    {.ext = "eps", .type = "application/postscript"},
    /* archives and packages */
    {.ext = "zip", .type = "application/zip"},
    {.ext = "gz", .type = "application/gzip"},
    {.ext = "tgz", .type = "application/gzip"},
    {.ext = "tar", .type = "application/x-tar"},
    {.ext = "bz2", .type = "application/x-bzip2"},
    {.ext = "xz", .type = "application/x-xz"},
    {.ext = "zst", .type = "application/zstd"},
    {.ext = "lz", .type = "application/x-lzip"},
    {.ext = "7z", .type = "application/x-7z-compressed"},
    {.ext = "rar", .type = "application/vnd.rar"},
    {.ext = "jar", .type = "application/java-archive"},
    {.ext = "apk", .type = "application/vnd.android.package-archive"},
    {.ext = "deb", .type = "application/vnd.debian.binary-package"},
    {.ext = "rpm", .type = "application/x-rpm"},
    {.ext = "iso", .type = "application/x-iso9660-image"},
    {.ext = "dmg", .type = "application/x-apple-diskimage"},
    {.ext = "msi", .type = "application/x-msi"},
    {.ext = "exe", .type = "application/vnd.microsoft.portable-executable"},
    {.ext = "bin", .type = "application/octet-stream"},
    /* other */
    {.ext = "sh", .type = "application/x-sh"},
    {.ext = "torrent", .type = "application/x-bittorrent"},
    {.ext = "swf", .type = "application/x-shockwave-flash"},
    {.ext = "pem", .type = "application/x-pem-file"},
    {.ext = "crt", .type = "application/x-x509-ca-cert"},
    {.ext = "der", .type = "application/x-x509-ca-cert"},
    {.ext = "gpx", .type = "application/gpx+xml"},
    {.ext = "kml", .type = "application/vnd.google-earth.kml+xml"},
    {.ext = "geojson", .type = "application/geo+json"},
};

struct mime_entry {
    char *type; /* NULL: empty slot; with the charset when text */
    size_t type_len;
    uint32_t hash;
    uint8_t ext_len;
    char ext[MIME_EXT_MAX + 1]; /* lower case */
};

struct mime_table {
    struct mime_entry *slots;
    size_t cap; /* a power of two */
    size_t count;
};

static uint32_t ext_hash(const char *ext, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)ext[i]) * 16777619u;
    return h;
}

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Copies ext lower-cased into buf; false when it is not a valid extension. */
static bool ext_canon(const char *ext, size_t len, char buf[MIME_EXT_MAX + 1])
{
    if (len == 0 || len > MIME_EXT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ext[i];

        if (c <= ' ' || c == 0x7f || c == '.' || c == '/')
            return false;
        buf[i] = ascii_lower((char)c);
    }
    buf[len] = '\0';
    return true;
}

static bool type_valid(const char *type, size_t len)
{
    if (len < 3 || len > MIME_TYPE_MAX || !memchr(type, '/', len) || type[0] == '/')
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)type[i] < 0x20 || (unsigned char)type[i] >= 0x7f)
            return false;
    return true;
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* True for types whose content is text, which get MIME_CHARSET. */
static bool type_is_text(const char *type, size_t len)
{
    static const char *const text_types[] = {
        "application/javascript", "application/ecmascript", "application/x-javascript",
        "application/json",       "application/xml",        "application/x-sh",
    };

    if (memchr(type, ';', len))
        return false; /* parameters already given */
    if (len > 5 && memcmp(type, "text/", 5) == 0)
        return true;
    if (has_suffix(type, len, "+xml") || has_suffix(type, len, "+json"))
        return true;
    for (size_t i = 0; i < sizeof text_types / sizeof text_types[0]; i++)
        if (strlen(text_types[i]) == len && memcmp(type, text_types[i], len) == 0)
            return true;
    return false;
}

static struct mime_entry *slot_for(struct mime_entry *slots, size_t cap, const char *ext,
                                   size_t len, uint32_t hash)
{
    size_t i = hash & (cap - 1);

    while (slots[i].type && !(slots[i].hash == hash && slots[i].ext_len == len &&
                              memcmp(slots[i].ext, ext, len) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int table_grow(struct mime_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    struct mime_entry *slots = calloc(cap, sizeof *slots);

    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        const struct mime_entry *e = &t->slots[i];

        if (e->type)
            *slot_for(slots, cap, e->ext, e->ext_len, e->hash) = *e;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* Sets ext (canonical) -> type, replacing an earlier entry. 0 or -ENOMEM. */
static int table_set(struct mime_table *t, const char *ext, const char *type, size_t type_len)
{
    size_t ext_len = strlen(ext), extra = type_is_text(type, type_len) ? strlen(MIME_CHARSET) : 0;
    uint32_t hash = ext_hash(ext, ext_len);
    struct mime_entry *e;
    char *copy;

    if ((t->count + 1) * 2 > t->cap && table_grow(t) < 0)
        return -ENOMEM;
    copy = malloc(type_len + extra + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, type, type_len);
    memcpy(copy + type_len, MIME_CHARSET, extra);
    copy[type_len + extra] = '\0';
    e = slot_for(t->slots, t->cap, ext, ext_len, hash);
    if (e->type)
        free(e->type);
    else
        t->count++;
    *e = (struct mime_entry){
        .type = copy, .type_len = type_len + extra, .hash = hash, .ext_len = (uint8_t)ext_len};
    memcpy(e->ext, ext, ext_len + 1);
    return 0;
}

static int load_builtins(struct mime_table *t)
{
    for (size_t i = 0; i < sizeof mime_builtins / sizeof mime_builtins[0]; i++) {
        const struct mime_builtin *b = &mime_builtins[i];

        if (table_set(t, b->ext, b->type, strlen(b->type)) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Next whitespace-separated token of line from *pos; false at the end. */
static bool next_token(const char *line, size_t *pos, const char **tok, size_t *tok_len)
{
    size_t i = *pos;

    while (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')
        i++;
    if (line[i] == '\0' || line[i] == '#')
        return false;
    *tok = line + i;
    while (line[i] && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
        i++;
    *tok_len = (size_t)(line + i - *tok);
    *pos = i;
    return true;
}

/* One mime.types line: "type ext ext ...". Bad lines and extensions are skipped. */
static int load_line(struct mime_table *t, const char *line)
{
    const char *type, *tok;
    size_t pos = 0, type_len, tok_len;
    char ext[MIME_EXT_MAX + 1];

    if (!next_token(line, &pos, &type, &type_len) || !type_valid(type, type_len))
        return 0;
    while (next_token(line, &pos, &tok, &tok_len))
        if (ext_canon(tok, tok_len, ext) && table_set(t, ext, type, type_len) < 0)
            return -ENOMEM;
    return 0;
}

static int load_system_file(struct mime_table *t, const char *path)
{
    char line[MIME_LINE_MAX];
    FILE *f = fopen(path, "re");
    bool skipping = false; /* inside a line longer than MIME_LINE_MAX */
    int rc = 0;

    if (!f)
        return 0; /* missing or unreadable: the built-in table serves */
    while (rc == 0 && fgets(line, sizeof line, f)) {
        bool whole = strchr(line, '\n') || feof(f);

        if (!skipping && whole)
            rc = load_line(t, line);
        skipping = !whole;
    }
    fclose(f);
    return rc;
}

static int load_overrides(struct mime_table *t, const char *const *ext, const char *const *type,
                          size_t n)
{
    char canon[MIME_EXT_MAX + 1];

    for (size_t i = 0; i < n; i++) {
        const char *e = ext[i][0] == '.' ? ext[i] + 1 : ext[i];

        if (!ext_canon(e, strlen(e), canon) || !type_valid(type[i], strlen(type[i])))
            return -EINVAL;
        if (table_set(t, canon, type[i], strlen(type[i])) < 0)
            return -ENOMEM;
    }
    return 0;
}

struct mime_table *mime_table_new(const char *system_file, const char *const *ext,
                                  const char *const *type, size_t n_overrides)
{
    struct mime_table *t = calloc(1, sizeof *t);
    int rc;

    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    rc = load_builtins(t);
    if (rc == 0 && system_file)
        rc = load_system_file(t, system_file);
    if (rc == 0)
        rc = load_overrides(t, ext, type, n_overrides);
    if (rc < 0)
        goto fail;
    return t;
fail:
    mime_table_free(t);
    errno = -rc;
    return NULL;
}

void mime_table_free(struct mime_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].type);
    free(t->slots);
    free(t);
}

/* The extension of the last path segment of name: after its last '.',
 * leading dots of the segment not counting (".bashrc" has none). */
static bool find_ext(const char *name, size_t len, const char **ext, size_t *ext_len)
{
    size_t base = len, dot = 0;

    while (base > 0 && name[base - 1] != '/')
        base--;
    while (base < len && name[base] == '.')
        base++;
    for (size_t i = base; i < len; i++)
        if (name[i] == '.')
            dot = i + 1;
    if (dot == 0 || dot == len)
        return false;
    *ext = name + dot;
    *ext_len = len - dot;
    return true;
}

const char *mime_lookup(const struct mime_table *t, const char *filename, size_t len,
                        size_t *type_len)
{
    const char *ext, *type = MIME_DEFAULT;
    size_t ext_len, n = strlen(MIME_DEFAULT);
    char canon[MIME_EXT_MAX + 1];

    if (t && t->cap && find_ext(filename, len, &ext, &ext_len) && ext_canon(ext, ext_len, canon)) {
        const struct mime_entry *e =
            slot_for(t->slots, t->cap, canon, ext_len, ext_hash(canon, ext_len));

        if (e->type) {
            type = e->type;
            n = e->type_len;
        }
    }
    if (type_len)
        *type_len = n;
    return type;
}
