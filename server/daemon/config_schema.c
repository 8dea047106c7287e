/* config_schema.c - the keys of [server] and [limits], and how every key is parsed and dumped. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon/config_internal.h"

#define CONFIG_MAX_WORKERS 1024
#define NAME_MAX_LEN       64

/* ---- [server] ----------------------------------------------------------- */

static int listen_port(struct loader *ld, const char *value, const char *s, unsigned *port)
{
    uint64_t v;

    if (!config_parse_u64(s, &v) || v > 65535) {
        ld_error(ld, ld->line, "invalid port in listen address '%s' (0 to 65535)", value);
        return -1;
    }
    *port = (unsigned)v;
    return 0;
}

static int listen_unix(struct loader *ld, const char *value, struct config_listen *out)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->addr;
    char text[PATH_MAX + 8];
    char *path;
    size_t len;

    if (value[5] == '\0') {
        ld_error(ld, ld->line, "listen address '%s' needs a socket path", value);
        return -1;
    }
    path = ld_path(ld, "listen", value + 5);
    if (!path)
        return -1;
    len = strlen(path);
    if (len >= sizeof(un->sun_path)) {
        ld_error(ld, ld->line, "unix socket path '%s' is too long (at most %zu bytes)", path,
                 sizeof(un->sun_path) - 1);
        return -1;
    }
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, len + 1);
    out->family = AF_UNIX;
    out->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    out->path = path;
    snprintf(text, sizeof(text), "unix:%s", path);
    out->text = ld_strdup(ld, text);
    return out->text ? 0 : -1;
}

/* Fills an IPv4 or IPv6 address from host (without brackets). */
static int listen_inet(struct config_listen *out, const char *host, unsigned port, bool any)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;

    out->port = port;
    if (any || inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        if (any)
            in4->sin_addr.s_addr = htonl(INADDR_ANY);
        out->family = AF_INET;
        out->addr_len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
        return -1;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    out->family = AF_INET6;
    out->addr_len = sizeof(*in6);
    return 0;
}

static int listen_text(struct loader *ld, struct config_listen *out, bool any)
{
    char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
    const void *src = out->family == AF_INET
                          ? (const void *)&((struct sockaddr_in *)&out->addr)->sin_addr
                          : (const void *)&((struct sockaddr_in6 *)&out->addr)->sin6_addr;

    inet_ntop(out->family, src, addr, sizeof(addr));
    if (any)
        snprintf(text, sizeof(text), "*:%u", out->port);
    else if (out->family == AF_INET6)
        snprintf(text, sizeof(text), "[%s]:%u", addr, out->port);
    else
        snprintf(text, sizeof(text), "%s:%u", addr, out->port);
    out->text = ld_strdup(ld, text);
    return out->text ? 0 : -1;
}

/* HOST:PORT (numeric IPv4 or localhost), [V6]:PORT, *:PORT, unix:/path. */
static int listen_parse(struct loader *ld, const char *value, struct config_listen *out)
{
    const char *colon = strrchr(value, ':');
    char host[INET6_ADDRSTRLEN + 2];
    size_t host_len;
    unsigned port;
    bool v6 = value[0] == '[', any;

    *out = (struct config_listen){.family = AF_UNSPEC};
    if (strncmp(value, "unix:", 5) == 0)
        return listen_unix(ld, value, out);
    if (!colon || colon == value || (v6 && colon[-1] != ']')) {
        ld_error(ld, ld->line,
                 "invalid listen address '%s' (HOST:PORT, [V6]:PORT, *:PORT or unix:/path)", value);
        return -1;
    }
    if (listen_port(ld, value, colon + 1, &port) < 0)
        return -1;
    host_len = (size_t)(colon - value) - (v6 ? 2 : 0);
    if (host_len >= sizeof(host) || (!v6 && memchr(value, ':', host_len))) {
        ld_error(ld, ld->line,
                 "invalid listen address '%s' (an IPv6 address goes in brackets: "
                 "[::1]:8080)",
                 value);
        return -1;
    }
    memcpy(host, value + (v6 ? 1 : 0), host_len);
    host[host_len] = '\0';
    any = !v6 && strcmp(host, "*") == 0;
    if (!v6 && strcmp(host, "localhost") == 0)
        memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
    if (listen_inet(out, host, port, any) < 0 || (v6 && out->family != AF_INET6)) {
        ld_error(ld, ld->line,
                 "listen host '%s' is not a numeric address (use an IPv4 "
                 "address, [IPv6], * or localhost)",
                 v6 ? value : host);
        return -1;
    }
    return listen_text(ld, out, any);
}

void schema_listen_add(struct loader *ld, struct config_server *s, const char *value)
{
    struct config_listen l;

    if (listen_parse(ld, value, &l) < 0)
        return;
    for (size_t i = 0; i < s->n_listen; i++) {
        if (strcmp(s->listen[i].text, l.text) == 0) {
            ld_error(ld, ld->line, "listen address '%s' is given twice", l.text);
            return;
        }
    }
    if (s->n_listen == CONFIG_MAX_LISTEN) {
        ld_error(ld, ld->line, "too many listen addresses (at most %d)", CONFIG_MAX_LISTEN);
        return;
    }
    s->listen = ld_grow(ld, s->listen, s->n_listen, &ld->listen_cap, sizeof(*s->listen));
    if (s->listen)
        s->listen[s->n_listen++] = l;
}

static void parse_listen(struct conf_io *io, const struct key_spec *key, void *obj,
                         const char *value)
{
    struct loader *ld = (struct loader *)io;
    (void)key;
    if (!*value) {
        ld_error(ld, ld->line, "'listen' needs a value");
        return;
    }
    schema_listen_add(ld, obj, value);
}

static void dump_listen(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct config_server *s = obj;

    for (size_t i = 0; i < s->n_listen; i++)
        fprintf(out, "%s = %s\n", key->name, s->listen[i].text);
}

static void parse_workers(struct conf_io *io, const struct key_spec *key, void *obj,
                          const char *value)
{
    struct loader *ld = (struct loader *)io;
    struct config_server *s = obj;
    uint64_t v;

    (void)key;
    if (strcmp(value, "auto") == 0) {
        s->workers = 0;
        return;
    }
    if (!config_parse_u64(value, &v) || v < 1 || v > CONFIG_MAX_WORKERS) {
        ld_error(ld, ld->line, "invalid value '%s' for 'workers' (auto or a number from 1 to %d)",
                 value, CONFIG_MAX_WORKERS);
        return;
    }
    s->workers = (unsigned)v;
}

static void dump_workers(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct config_server *s = obj;

    if (s->workers == 0)
        fprintf(out, "%s = auto\n", key->name);
    else
        fprintf(out, "%s = %u\n", key->name, s->workers);
}

/* user = NAME / group = NAME: checked here, resolved once the file is read. */
static void parse_account(struct conf_io *io, const struct key_spec *key, void *obj,
                          const char *value)
{
    struct loader *ld = (struct loader *)io;
    size_t len = strlen(value);

    if (len == 0) {
        conf_set_string(obj, key, NULL);
        return;
    }
    if (len >= NAME_MAX_LEN || strpbrk(value, " \t:/")) {
        ld_error(ld, ld->line, "invalid %s name '%s'", key->name, value);
        return;
    }
    if (key->name[0] == 'u')
        ld->user_line = ld->line;
    else
        ld->group_line = ld->line;
    conf_set_string(obj, key, ld_strdup(ld, value));
}

/* stderr | journal | off (access_log only) | a file path. */
static void parse_log(struct conf_io *io, const struct key_spec *key, void *obj, const char *value)
{
    struct loader *ld = (struct loader *)io;
    struct config_log *log = (struct config_log *)((char *)obj + key->offset);
    bool allow_off = strcmp(key->name, "access_log") == 0;
    char *path, *slash;
    struct stat st;

    if (!*value) {
        ld_error(ld, ld->line, "'%s' needs a value (stderr, journal%s or a file path)", key->name,
                 allow_off ? ", off" : "");
        return;
    }
    if (strcmp(value, "stderr") == 0 || strcmp(value, "journal") == 0 ||
        (allow_off && strcmp(value, "off") == 0)) {
        *log = (struct config_log){.target = value[0] == 's'   ? CONFIG_LOG_STDERR
                                             : value[0] == 'j' ? CONFIG_LOG_JOURNAL
                                                               : CONFIG_LOG_OFF};
        return;
    }
    if (strcmp(value, "off") == 0) {
        ld_error(ld, ld->line, "'%s' cannot be off (stderr, journal or a file path)", key->name);
        return;
    }
    path = ld_path(ld, key->name, value);
    if (!path)
        return;
    slash = strrchr(path, '/');
    *slash = '\0';
    if (stat(slash == path ? "/" : path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        ld_error(ld, ld->line, "directory of %s '%s' does not exist", key->name, value);
        *slash = '/';
        return;
    }
    *slash = '/';
    *log = (struct config_log){.target = CONFIG_LOG_FILE, .path = path};
}

static void dump_log(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct config_log *log = (const struct config_log *)((const char *)obj + key->offset);
    static const char *const names[] = {
        [CONFIG_LOG_STDERR] = "stderr", [CONFIG_LOG_JOURNAL] = "journal", [CONFIG_LOG_OFF] = "off"};

    fprintf(out, "%s = %s\n", key->name,
            log->target == CONFIG_LOG_FILE ? log->path : names[log->target]);
}

static const struct enum_name access_formats[] = {
    {.name = "combined", .value = CONFIG_ACCESS_COMBINED},
    {.name = "json", .value = CONFIG_ACCESS_JSON},
    {.name = NULL},
};

static const struct enum_name log_levels[] = {
    {.name = "error", .value = LOG_LVL_ERROR},
    {.name = "warn", .value = LOG_LVL_WARN},
    {.name = "info", .value = LOG_LVL_INFO},
    {.name = "debug", .value = LOG_LVL_DEBUG},
    {.name = NULL},
};

static const struct key_spec server_keys[] = {
    {.name = "listen",
     .type = VT_CUSTOM,
     .repeatable = true,
     .parse = parse_listen,
     .dump = dump_listen},
    {.name = "workers", .type = VT_CUSTOM, .parse = parse_workers, .dump = dump_workers},
    {.name = "user",
     .type = VT_CUSTOM,
     .offset = offsetof(struct config_server, user),
     .parse = parse_account,
     .dump = conf_dump_string},
    {.name = "group",
     .type = VT_CUSTOM,
     .offset = offsetof(struct config_server, group),
     .parse = parse_account,
     .dump = conf_dump_string},
    {.name = "max_connections",
     .type = VT_NUMBER,
     .offset = offsetof(struct config_server, max_connections),
     .width = sizeof(unsigned),
     .min = 1,
     .max = 16777216},
    {.name = "stack_size",
     .type = VT_SIZE,
     .offset = offsetof(struct config_server, stack_size),
     .width = sizeof(size_t),
     .min = 16 * KIB,
     .max = 8 * MIB},
    {.name = "access_log",
     .type = VT_CUSTOM,
     .offset = offsetof(struct config_server, access_log),
     .parse = parse_log,
     .dump = dump_log},
    {.name = "access_log_format",
     .type = VT_ENUM,
     .offset = offsetof(struct config_server, access_log_format),
     .width = sizeof(enum config_access_format),
     .names = access_formats},
    {.name = "error_log",
     .type = VT_CUSTOM,
     .offset = offsetof(struct config_server, error_log),
     .parse = parse_log,
     .dump = dump_log},
    {.name = "log_level",
     .type = VT_ENUM,
     .offset = offsetof(struct config_server, log_level),
     .width = sizeof(enum log_level),
     .names = log_levels},
    {.name = "server_header",
     .type = VT_TEXT,
     .offset = offsetof(struct config_server, server_header)},
    {.name = "trusted_proxies",
     .type = VT_CUSTOM,
     .parse = site_parse_trusted,
     .dump = site_dump_trusted},
};

/* ---- [limits] ------------------------------------------------------------ */

static const struct key_spec limits_keys[] = {
    {.name = "header_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct http_limits, header_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = DAY_MS},
    {.name = "body_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct http_limits, body_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = DAY_MS},
    {.name = "keepalive_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct http_limits, keepalive_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = DAY_MS},
    {.name = "send_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct http_limits, send_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = DAY_MS},
    {.name = "max_header_size",
     .type = VT_SIZE,
     .offset = offsetof(struct http_limits, max_header_size),
     .width = sizeof(size_t),
     .min = 1 * KIB,
     .max = 1 * MIB},
    {.name = "max_headers",
     .type = VT_NUMBER,
     .offset = offsetof(struct http_limits, max_headers),
     .width = sizeof(unsigned),
     .min = 1,
     .max = 10000},
    {.name = "max_body_size",
     .type = VT_SIZE,
     .offset = offsetof(struct http_limits, max_body_size),
     .width = sizeof(uint64_t),
     .min = 0,
     .max = 1024 * GIB},
    {.name = "max_keepalive_requests",
     .type = VT_NUMBER,
     .offset = offsetof(struct http_limits, max_keepalive_requests),
     .width = sizeof(unsigned),
     .min = 0,
     .max = UINT_MAX},
    {.name = "shutdown_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct http_limits, shutdown_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 0,
     .max = DAY_MS},
    {.name = "min_send_rate",
     .type = VT_SIZE,
     .offset = offsetof(struct http_limits, min_send_rate),
     .width = sizeof(uint64_t),
     .min = 0,
     .max = 1 * GIB},
    {.name = "min_body_rate",
     .type = VT_SIZE,
     .offset = offsetof(struct http_limits, min_body_rate),
     .width = sizeof(uint64_t),
     .min = 0,
     .max = 1 * GIB},
};

/* ---- sections ------------------------------------------------------------ */

const struct section_spec schema_server = {.keys = server_keys,
                                           .n_keys = sizeof(server_keys) / sizeof(server_keys[0])};
const struct section_spec schema_limits = {.keys = limits_keys,
                                           .n_keys = sizeof(limits_keys) / sizeof(limits_keys[0])};

_Static_assert(sizeof(server_keys) / sizeof(server_keys[0]) <= SECTION_MAX_KEYS, "key_line");
_Static_assert(sizeof(limits_keys) / sizeof(limits_keys[0]) <= SECTION_MAX_KEYS, "key_line");

const char *const schema_planned_kinds[] = {NULL};

/* ---- the loader's services for key parsers ------------------------------- */

static void io_error(struct conf_io *io, const char *msg)
{
    struct loader *ld = (struct loader *)io;

    ld_error(ld, ld->line, "%s", msg);
}

static char *io_strndup(struct conf_io *io, const char *s, size_t n)
{
    return ld_strndup((struct loader *)io, s, n);
}

static char *io_path(struct conf_io *io, const char *key, const char *value)
{
    return ld_path((struct loader *)io, key, value);
}

void schema_io_init(struct loader *ld)
{
    ld->io = (struct conf_io){.error = io_error, .strndup = io_strndup, .path = io_path};
}

/* ---- values -------------------------------------------------------------- */

static uint64_t field_get(const void *obj, const struct key_spec *key)
{
    const char *p = (const char *)obj + key->offset;
    uint64_t v64;
    uint32_t v32;
    bool b;

    if (key->width == sizeof(uint64_t)) {
        memcpy(&v64, p, sizeof(v64));
        return v64;
    }
    if (key->width == sizeof(uint32_t)) {
        memcpy(&v32, p, sizeof(v32));
        return v32;
    }
    memcpy(&b, p, sizeof(b));
    return b;
}

static void field_set(void *obj, const struct key_spec *key, uint64_t v)
{
    char *p = (char *)obj + key->offset;
    uint32_t v32 = (uint32_t)v;
    bool b = v != 0;

    if (key->width == sizeof(uint64_t))
        memcpy(p, &v, sizeof(v));
    else if (key->width == sizeof(uint32_t))
        memcpy(p, &v32, sizeof(v32));
    else
        memcpy(p, &b, sizeof(b));
}

static void format_value(const struct key_spec *key, uint64_t v, char *buf, size_t len)
{
    if (key->type == VT_SIZE)
        config_format_size(v, buf, len);
    else if (key->type == VT_DURATION)
        config_format_duration(v, buf, len);
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
}

static bool parse_enum(const struct key_spec *key, const char *value, uint64_t *out)
{
    for (const struct enum_name *n = key->names; n->name; n++) {
        if (strcmp(n->name, value) == 0) {
            *out = (uint64_t)n->value;
            return true;
        }
    }
    return false;
}

/* "deny or allow", "error, warn, info or debug". */
static void enum_choices(const struct key_spec *key, char *buf, size_t len)
{
    size_t n = 0, used = 0;

    while (key->names[n].name)
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s",
                         i == 0       ? ""
                         : i + 1 == n ? " or "
                                      : ", ",
                         key->names[i].name);
        used += w > 0 ? (size_t)w : 0;
    }
}

static void value_error(struct loader *ld, const struct key_spec *key, const char *value)
{
    char choices[128];

    switch (key->type) {
    case VT_SIZE:
        ld_error(ld, ld->line,
                 "invalid size '%s' for '%s' (a number with an optional k, m or g "
                 "suffix)",
                 value, key->name);
        break;
    case VT_DURATION:
        ld_error(ld, ld->line,
                 "invalid duration '%s' for '%s' (a number with ms, s, m or h; a "
                 "bare number is seconds)",
                 value, key->name);
        break;
    case VT_BOOL:
        ld_error(ld, ld->line, "invalid boolean '%s' for '%s' (on/off, yes/no, true/false)", value,
                 key->name);
        break;
    case VT_ENUM:
        enum_choices(key, choices, sizeof(choices));
        ld_error(ld, ld->line, "invalid value '%s' for '%s' (expected %s)", value, key->name,
                 choices);
        break;
    default: ld_error(ld, ld->line, "invalid number '%s' for '%s'", value, key->name); break;
    }
}

static void parse_text(struct conf_io *io, const struct key_spec *key, void *obj, const char *value)
{
    struct loader *ld = (struct loader *)io;

    if (!conf_header_value_ok(value)) {
        ld_error(ld, ld->line, "'%s' contains a control character", key->name);
        return;
    }
    conf_set_string(obj, key, *value ? ld_strdup(ld, value) : NULL);
}

static void key_parse(struct loader *ld, const struct key_spec *key, void *obj, const char *value)
{
    char lo[32], hi[32], got[32];
    uint64_t v = 0;
    bool ok;

    if (key->type == VT_CUSTOM || key->type == VT_TEXT) {
        (key->type == VT_CUSTOM ? key->parse : parse_text)(&ld->io, key, obj, value);
        return;
    }
    if (!*value) {
        ld_error(ld, ld->line, "'%s' needs a value", key->name);
        return;
    }
    ok = key->type == VT_SIZE       ? config_parse_size(value, &v)
         : key->type == VT_DURATION ? config_parse_duration(value, &v)
         : key->type == VT_BOOL     ? config_parse_bool(value, &v)
         : key->type == VT_ENUM     ? parse_enum(key, value, &v)
                                    : config_parse_u64(value, &v);
    if (!ok) {
        value_error(ld, key, value);
        return;
    }
    if ((key->type != VT_BOOL && key->type != VT_ENUM) && (v < key->min || v > key->max)) {
        format_value(key, v, got, sizeof(got));
        format_value(key, key->min, lo, sizeof(lo));
        format_value(key, key->max, hi, sizeof(hi));
        ld_error(ld, ld->line, "%s = %s is out of range (%s to %s)", key->name, got, lo, hi);
        return;
    }
    field_set(obj, key, v);
}

static void dump_key(FILE *out, const struct key_spec *key, const void *obj)
{
    char buf[32];
    uint64_t v;

    if (key->type == VT_CUSTOM || key->type == VT_TEXT) {
        (key->type == VT_CUSTOM ? key->dump : conf_dump_string)(out, key, obj);
        return;
    }
    v = field_get(obj, key);
    if (key->type == VT_BOOL) {
        fprintf(out, "%s = %s\n", key->name, v ? "on" : "off");
        return;
    }
    if (key->type == VT_ENUM) {
        for (const struct enum_name *n = key->names; n->name; n++) {
            if ((uint64_t)n->value == v)
                fprintf(out, "%s = %s\n", key->name, n->name);
        }
        return;
    }
    format_value(key, v, buf, sizeof(buf));
    fprintf(out, "%s = %s\n", key->name, buf);
}

/* ---- keys ---------------------------------------------------------------- */

/* ".ext": a dot and a token without '/' or another dot. */
static bool mime_ext_ok(const char *ext)
{
    return ext[0] == '.' && !strpbrk(ext + 1, "/.") && conf_is_token(ext + 1, strlen(ext + 1));
}

/* "type/subtype" with optional "; parameters". */
static bool mime_type_ok(const char *type)
{
    const char *slash = strchr(type, '/'), *params;

    if (!slash)
        return false;
    params = slash + strcspn(slash, ";");
    return conf_is_token(type, (size_t)(slash - type)) &&
           conf_is_token(slash + 1, (size_t)(params - slash - 1)) && conf_header_value_ok(params);
}

/* A [mime] line; extensions are stored lowercase. */
static void mime_add(struct loader *ld, const char *ext, const char *type)
{
    struct config *cfg = ld->cfg;
    char *lower;

    if (!mime_ext_ok(ext)) {
        ld_error(ld, ld->line, "[mime] keys are file extensions such as '.webmanifest', not '%s'",
                 ext);
        return;
    }
    if (!mime_type_ok(type)) {
        ld_error(ld, ld->line, "invalid MIME type '%s' for '%s' (type/subtype)", type, ext);
        return;
    }
    for (size_t i = 0; i < cfg->n_mime; i++) {
        if (strcasecmp(cfg->mime[i].ext, ext) == 0) {
            ld_error(ld, ld->line, "'%s' is set twice in [mime]", ext);
            return;
        }
    }
    if (cfg->n_mime == CONFIG_MAX_MIME) {
        ld_error(ld, ld->line, "too many [mime] entries (at most %d)", CONFIG_MAX_MIME);
        return;
    }
    lower = ld_strdup(ld, ext);
    cfg->mime = ld_grow(ld, cfg->mime, cfg->n_mime, &ld->mime_cap, sizeof(*cfg->mime));
    if (!lower || !cfg->mime)
        return;
    for (size_t i = 0; lower[i]; i++)
        lower[i] = config_lower(lower[i]);
    cfg->mime[cfg->n_mime++] = (struct config_mime){.ext = lower, .type = ld_strdup(ld, type)};
}

static void key_unknown(struct loader *ld, const char *name)
{
    const struct section_spec *spec = ld->sec.spec;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;

    for (size_t i = 0; i < spec->n_keys; i++)
        config_hint(name, spec->keys[i].name, &best, &best_d);
    if (best)
        ld_error(ld, ld->line, "unknown key '%s' in %s — did you mean '%s'?", name, ld->sec.name,
                 best);
    else
        ld_error(ld, ld->line, "unknown key '%s' in %s", name, ld->sec.name);
}

/* A site key (allow, deny ...) of [server] or a route: true when name is one. */
static bool site_key(struct loader *ld, const char *name, const char *value)
{
    for (size_t i = 0; i < schema_site.n_keys; i++) {
        if (strcmp(schema_site.keys[i].name, name) == 0) {
            key_parse(ld, &schema_site.keys[i], ld->sec.policy, value);
            return true;
        }
    }
    return false;
}

void schema_key(struct loader *ld, const char *name, const char *value)
{
    const struct section_spec *spec = ld->sec.spec;
    size_t i = 0;

    if (ld->sec.kind == SEC_NONE) {
        ld_error(ld, ld->line, "key '%s' is outside any section", name);
        return;
    }
    if (ld->sec.kind == SEC_SKIP)
        return;
    if (ld->sec.kind == SEC_MIME) {
        mime_add(ld, name, value);
        return;
    }
    while (i < spec->n_keys && strcmp(spec->keys[i].name, name) != 0)
        i++;
    if (i == spec->n_keys && ld->sec.policy && site_key(ld, name, value))
        return;
    if (i == spec->n_keys) {
        key_unknown(ld, name);
        return;
    }
    if (!spec->keys[i].repeatable && ld->sec.key_line[i]) {
        ld_error(ld, ld->line, "'%s' is set twice in %s (first at line %u)", name, ld->sec.name,
                 ld->sec.key_line[i]);
        return;
    }
    ld->sec.key_line[i] = ld->line;
    key_parse(ld, &spec->keys[i], ld->sec.obj, value);
}

/* ---- defaults, identity, dump ------------------------------------------- */

void schema_defaults(struct config *cfg)
{
    cfg->server = (struct config_server){
        .workers = 0,
        .max_connections = 100000,
        .stack_size = 64 * KIB,
        .access_log = {.target = CONFIG_LOG_STDERR},
        .access_log_format = CONFIG_ACCESS_COMBINED,
        .error_log = {.target = CONFIG_LOG_STDERR},
        .log_level = LOG_LVL_INFO,
        .server_header = "cohttpd",
    };
    cfg->limits = http_limits_default();
}

static bool numeric_id(const char *s, uint64_t *v)
{
    return config_parse_u64(s, v) && *v < UINT32_MAX;
}

/* Resolves user and group to ids: names first, then plain numbers. */
void schema_identity(struct loader *ld)
{
    struct config_server *s = &ld->cfg->server;
    char buf[16384];
    uint64_t id;

    if (s->user) {
        struct passwd pw, *res = NULL;

        if (getpwnam_r(s->user, &pw, buf, sizeof(buf), &res) == 0 && res) {
            s->uid = pw.pw_uid;
            s->gid = pw.pw_gid;
            s->change_gid = true;
        } else if (numeric_id(s->user, &id)) {
            s->uid = (uid_t)id;
        } else {
            ld_error(ld, ld->user_line, "unknown user '%s'", s->user);
        }
        s->change_uid = true;
    }
    if (s->group) {
        struct group gr, *res = NULL;

        if (getgrnam_r(s->group, &gr, buf, sizeof(buf), &res) == 0 && res)
            s->gid = gr.gr_gid;
        else if (numeric_id(s->group, &id))
            s->gid = (gid_t)id;
        else
            ld_error(ld, ld->group_line, "unknown group '%s'", s->group);
        s->change_gid = true;
    }
}

void schema_dump_section(FILE *out, const char *header, const struct section_spec *spec,
                         const void *obj)
{
    fprintf(out, "\n%s\n", header);
    for (size_t i = 0; i < spec->n_keys; i++)
        dump_key(out, &spec->keys[i], obj);
}

void schema_dump_keys(FILE *out, const struct section_spec *spec, const void *obj)
{
    for (size_t i = 0; obj && i < spec->n_keys; i++)
        dump_key(out, &spec->keys[i], obj);
}
