/* config.c - loads cohttpd.ini through inih: lines, sections, errors, memory; the -T dump. */
#include "daemon/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config_internal.h"
#include "handlers/kinds.h"

#define CONFIG_MSG_MAX 768
#define HINT_WORD_MAX  64

struct config_block {
    struct config_block *next;
    max_align_t data[];
};

/* ---- errors -------------------------------------------------------------- */

void config_where(char *out, size_t cap, const char *file, unsigned line)
{
    if (line)
        snprintf(out, cap, "%s:%u", file, line);
    else
        snprintf(out, cap, "%s", file);
}

void config_errors_add(struct config_errors *errs, const char *file, unsigned line, const char *msg)
{
    char where[PATH_MAX + 16], text[CONFIG_MSG_MAX + sizeof where];
    char *copy;

    if (errs->n >= CONFIG_MAX_ERRORS) {
        errs->truncated = true;
        return;
    }
    if (errs->n == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        struct config_error *items = realloc(errs->items, cap * sizeof(*items));

        if (!items)
            return;
        errs->items = items;
        errs->cap = cap;
    }
    config_where(where, sizeof where, file, line);
    snprintf(text, sizeof(text), "%s: %s", where, msg);
    copy = strdup(text);
    if (copy)
        errs->items[errs->n++] = (struct config_error){.line = line, .text = copy};
}

void config_errors_print(const struct config_errors *errs, FILE *out)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(out, "%s\n", errs->items[i].text);
    if (errs->truncated)
        fprintf(out, "cohttpd: more than %d errors; the rest are not shown\n", CONFIG_MAX_ERRORS);
}

void config_errors_free(struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->items[i].text);
    free(errs->items);
    *errs = (struct config_errors){0};
}

void ld_error(struct loader *ld, unsigned line, const char *fmt, ...)
{
    char msg[CONFIG_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    config_errors_add(ld->errs, ld->file, line, msg);
}

static bool ld_failed(const struct loader *ld)
{
    return ld->errs->n > ld->errs_before || ld->errs->truncated;
}

/* ---- memory: every allocation is a block the config owns -------------------- */

void *ld_alloc(struct loader *ld, size_t size)
{
    struct config_block *b = calloc(1, sizeof(*b) + size);

    if (!b) {
        if (!ld->oom)
            ld_error(ld, 0, "out of memory");
        ld->oom = true;
        return NULL;
    }
    b->next = ld->cfg->blocks;
    ld->cfg->blocks = b;
    return b->data;
}

char *ld_strndup(struct loader *ld, const char *s, size_t n)
{
    char *copy = ld_alloc(ld, n + 1);

    if (copy)
        memcpy(copy, s, n);
    return copy;
}

char *ld_strdup(struct loader *ld, const char *s) { return ld_strndup(ld, s, strlen(s)); }

/* Returns an array with room for n + 1 elements: old, or a bigger copy of it. */
void *ld_grow(struct loader *ld, void *old, size_t n, size_t *cap, size_t elem)
{
    size_t new_cap = *cap ? *cap * 2 : 4;
    void *bigger;

    if (n < *cap)
        return old;
    bigger = ld_alloc(ld, new_cap * elem);
    if (!bigger)
        return NULL;
    if (n)
        memcpy(bigger, old, n * elem);
    *cap = new_cap;
    return bigger;
}

void config_free(struct config *cfg)
{
    struct config_block *b = cfg->blocks;

    router_free(cfg->router);
    while (b) {
        struct config_block *next = b->next;

        free(b);
        b = next;
    }
    *cfg = (struct config){0};
}

/* ---- paths --------------------------------------------------------------- */

/* Removes empty, "." and ".." segments of an absolute path, lexically, into
 * out (at least strlen(in) + 2 bytes). */
static void path_clean(const char *in, char *out)
{
    size_t o = 0;
    const char *p = in;

    while (*p) {
        const char *seg;
        size_t len;

        while (*p == '/')
            p++;
        seg = p;
        while (*p && *p != '/')
            p++;
        len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        out[o++] = '/';
        memcpy(out + o, seg, len);
        o += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
}

/* value as an absolute, cleaned path (relative ones below the config's
 * directory), owned by the config; NULL after reporting an error. */
char *ld_path(struct loader *ld, const char *key, const char *value)
{
    char joined[PATH_MAX], clean[PATH_MAX + 2];
    int n;

    if (value[0] == '/')
        n = snprintf(joined, sizeof(joined), "%s", value);
    else
        n = snprintf(joined, sizeof(joined), "%s/%s", ld->cfg->dir, value);
    if (n < 0 || (size_t)n >= sizeof(joined)) {
        ld_error(ld, ld->line, "path for '%s' is too long", key);
        return NULL;
    }
    path_clean(joined, clean);
    return ld_strdup(ld, clean);
}

/* ---- section headers ----------------------------------------------------- */

static const char *const global_sections[] = {"server", "limits", "mime"};

static void ld_section_end(struct loader *ld)
{
    const struct section_spec *spec = ld->sec.spec;

    for (size_t i = 0; spec && i < spec->n_keys; i++) {
        if (spec->keys[i].required && !ld->sec.key_line[i])
            ld_error(ld, ld->sec.line, "%s needs '%s'", ld->sec.name, spec->keys[i].name);
    }
    ld->sec = (struct section){.kind = SEC_SKIP, .line = ld->line};
}

/* A route host pattern: a DNS name or "*." and one, lowercased, without a trailing dot. */
static const char *match_host(struct loader *ld, const char *host, size_t len)
{
    char *lower;
    size_t skip = (len > 1 && host[0] == '*' && host[1] == '.') ? 2 : 0;
    bool ok = len > skip;

    if (len > 0 && host[len - 1] == '.')
        len--;
    for (size_t i = skip; ok && i < len; i++) {
        char c = config_lower(host[i]);

        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
             (c == '.' && i > skip && host[i - 1] != '.');
    }
    if (!ok || len <= skip || host[len - 1] == '.') {
        ld_error(ld, ld->line,
                 "invalid host '%.*s' in %s (a name such as example.com or "
                 "*.example.com, no port)",
                 (int)len, host, ld->sec.name);
        return NULL;
    }
    lower = ld_strndup(ld, host, len);
    for (size_t i = 0; lower && i < len; i++)
        lower[i] = config_lower(lower[i]);
    return lower;
}

static int ld_route_add(struct loader *ld, const struct handler_kind *ks, const char *match)
{
    struct config *cfg = ld->cfg;
    const char *slash = strchr(match, '/'), *host = NULL;
    struct http_policy *policy;
    void *conf;

    if (!slash) {
        ld_error(ld, ld->line, "%s needs a path: [%s %s/] or [%s /PATH]", ld->sec.name, ks->name,
                 match, ks->name);
        return -1;
    }
    if (slash > match && !(host = match_host(ld, match, (size_t)(slash - match))))
        return -1;
    if (!conf_url_path_ok(slash)) {
        ld_error(ld, ld->line,
                 "invalid path prefix '%s' in %s (no '?', '#', '%%', '//', '.' or "
                 "'..' segments)",
                 slash, ld->sec.name);
        return -1;
    }
    if (cfg->n_routes == CONFIG_MAX_ROUTES) {
        ld_error(ld, ld->line, "too many routes (at most %d)", CONFIG_MAX_ROUTES);
        return -1;
    }
    conf = ld_alloc(ld, ks->conf_size);
    policy = ld_alloc(ld, sizeof *policy);
    cfg->routes = ld_grow(ld, cfg->routes, cfg->n_routes, &ld->routes_cap, sizeof(*cfg->routes));
    if (!conf || !policy || !cfg->routes)
        return -1;
    if (ks->conf_init)
        ks->conf_init(conf);
    cfg->routes[cfg->n_routes++] = (struct route){.kind = ks,
                                                  .host = host,
                                                  .prefix = ld_strdup(ld, slash),
                                                  .conf = conf,
                                                  .policy = policy,
                                                  .name = ld->sec.name,
                                                  .file = cfg->path,
                                                  .line = ld->line};
    ld->sec.kind = SEC_ROUTE;
    ld->sec.spec = ks->schema;
    ld->sec.obj = conf;
    ld->sec.policy = policy;
    return 0;
}

/* A kind of DESIGN.md §4 that this build does not have yet. */
static bool ld_kind_planned(const char *name)
{
    for (size_t i = 0; schema_planned_kinds[i]; i++) {
        if (strcmp(name, schema_planned_kinds[i]) == 0)
            return true;
    }
    return false;
}

static void ld_route_section(struct loader *ld, const char *kind, size_t kind_len,
                             const char *match)
{
    const struct handler_kind *ks = handler_kind_find(kind, kind_len);
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    char word[HINT_WORD_MAX + 1];

    if (ks) {
        ld_route_add(ld, ks, match);
        return;
    }
    snprintf(word, sizeof(word), "%.*s", (int)kind_len, kind);
    if (ld_kind_planned(word)) {
        ld_error(ld, ld->line, "%s: route kind '%s' is not supported yet by this build",
                 ld->sec.name, word);
        return;
    }
    for (size_t i = 0; i < handler_kind_count(); i++)
        config_hint(word, handler_kind_at(i)->name, &best, &best_d);
    for (size_t i = 0; schema_planned_kinds[i]; i++)
        config_hint(word, schema_planned_kinds[i], &best, &best_d);
    if (best)
        ld_error(ld, ld->line, "unknown route kind '%s' in %s — did you mean '%s'?", word,
                 ld->sec.name, best);
    else
        ld_error(ld, ld->line,
                 "unknown route kind '%s' in %s (static, redirect, cgi, proxy or "
                 "status)",
                 word, ld->sec.name);
}

static void ld_global_section(struct loader *ld, const char *name)
{
    static const enum section_kind sec_kinds[] = {SEC_SERVER, SEC_LIMITS, SEC_MIME};
    void *objs[] = {&ld->cfg->server, &ld->cfg->limits, NULL};
    const struct section_spec *specs[] = {&schema_server, &schema_limits, NULL};
    const char *best = NULL;
    size_t best_d = SIZE_MAX;

    for (size_t i = 0; i < 3; i++) {
        if (strcmp(name, global_sections[i]) != 0)
            continue;
        if (ld->global_line[i]) {
            ld_error(ld, ld->line, "section %s is repeated (first at line %u)", ld->sec.name,
                     ld->global_line[i]);
            return;
        }
        ld->global_line[i] = ld->line;
        ld->sec.kind = sec_kinds[i];
        ld->sec.spec = specs[i];
        ld->sec.obj = objs[i];
        ld->sec.policy = sec_kinds[i] == SEC_SERVER ? &ld->cfg->server.policy : NULL;
        return;
    }
    if (handler_kind_find(name, strlen(name)) || ld_kind_planned(name)) {
        ld_error(ld, ld->line, "%s needs a match: [%s /PATH] or [%s HOST/PATH]", ld->sec.name, name,
                 name);
        return;
    }
    for (size_t i = 0; i < 3; i++)
        config_hint(name, global_sections[i], &best, &best_d);
    if (best)
        ld_error(ld, ld->line, "unknown section %s — did you mean [%s]?", ld->sec.name, best);
    else
        ld_error(ld, ld->line, "unknown section %s", ld->sec.name);
}

/* A "[...]" line (leading blanks already gone); a failed header leaves the
 * section in SEC_SKIP so its keys raise no further errors. */
static void ld_section(struct loader *ld, char *line)
{
    char *close = strchr(line, ']'), *inner = line + 1, *end, *after;
    char name[INI_MAX_LINE + 2];

    ld_section_end(ld);
    if (!close) {
        ld_error(ld, ld->line, "section header without a closing ']'");
        return;
    }
    for (after = close + 1; config_blank(*after); after++)
        ;
    if (*after && !strchr(";#\r\n", *after)) {
        ld_error(ld, ld->line, "unexpected text after ']'");
        return;
    }
    while (config_blank(*inner))
        inner++;
    for (end = close; end > inner && config_blank(end[-1]); end--)
        ;
    *end = '\0';
    snprintf(name, sizeof(name), "[%s]", inner);
    ld->sec.name = ld_strdup(ld, name);
    if (!ld->sec.name)
        return;
    end = inner + strcspn(inner, " \t");
    if (*end == '\0') {
        ld_global_section(ld, inner);
        return;
    }
    for (after = end; config_blank(*after); after++)
        ;
    if (after[strcspn(after, " \t")] != '\0') {
        ld_error(ld, ld->line, "unexpected text after the match in %s", ld->sec.name);
        return;
    }
    ld_route_section(ld, inner, (size_t)(end - inner), after);
}

/* ---- inih glue ----------------------------------------------------------- */

static int ld_handler(void *user, const char *section, const char *name, const char *value);

/* A key line inih did not hand to the handler: it had no '=' (or ':'). */
static void ld_check_key_line(struct loader *ld)
{
    if (ld->key_line && !ld->key_seen)
        ld_error(ld, ld->line, "expected 'key = value', a [section] or a comment");
    ld->key_line = false;
}

/*
 * Reads one physical line into ld->text at off, without its line ending.
 * Returns false at the end of the file when nothing was read. A line that
 * goes beyond CONFIG_LINE_MAX sets *too_long and the rest is skipped.
 */
static bool ld_read_physical(struct loader *ld, size_t *off, bool *too_long)
{
    int c = getc(ld->fp);

    if (c == EOF)
        return false;
    ld->lines_read++;
    for (; c != EOF && c != '\n'; c = getc(ld->fp)) {
        if (*off < CONFIG_LINE_MAX)
            ld->text[(*off)++] = (char)c;
        else
            *too_long = true;
    }
    if (*off > 0 && ld->text[*off - 1] == '\r')
        (*off)--;
    ld->text[*off] = '\0';
    return true;
}

/*
 * Reads one logical line into ld->text: a line ending in a backslash goes on
 * with the next one, the backslash and the blanks around it taken as one
 * space (as in systemd's unit files); a comment line never goes on. ld->line
 * is its first line.
 * Returns its length, or -1 at the end of the file; *joined tells whether
 * lines were joined.
 */
static long ld_read_logical(struct loader *ld, bool *joined, bool *too_long)
{
    size_t len = 0;
    char first;

    *joined = *too_long = false;
    if (!ld_read_physical(ld, &len, too_long))
        return -1;
    ld->line = ld->lines_read;
    first = ld->text[strspn(ld->text, " \t")];
    if (first == ';' || first == '#')
        return (long)len; /* a comment goes on with nothing */
    while (len > 0 && ld->text[len - 1] == '\\' && !*too_long) {
        size_t next, skip = 0;

        for (len--; len > 0 && config_blank(ld->text[len - 1]); len--)
            ;
        ld->text[len++] = ' ';
        next = len;
        if (!ld_read_physical(ld, &next, too_long))
            break;
        *joined = true;
        while (config_blank(ld->text[len + skip]))
            skip++;
        memmove(ld->text + len, ld->text + len + skip, next - len - skip + 1);
        len = next - skip;
    }
    return (long)len;
}

/* A key line inih's buffer cannot hold (or joined from several lines),
 * handed to the handler as inih would: name and value without surrounding
 * blanks, an inline comment (';' after a blank) cut off. */
static void ld_long_key(struct loader *ld, char *line)
{
    char *sep = line + strcspn(line, "=:"), *value, *end;

    ld->key_line = false;
    if (line[0] == '\0' || line[0] == ';' || line[0] == '#')
        return;
    if (*sep == '\0') {
        ld_error(ld, ld->line, "expected 'key = value', a [section] or a comment");
        return;
    }
    for (end = sep; end > line && config_blank(end[-1]); end--)
        ;
    *end = '\0';
    for (value = sep + 1; config_blank(*value); value++)
        ;
    for (end = value; *end && !(*end == ';' && end > value && config_blank(end[-1])); end++)
        ;
    while (end > value && config_blank(end[-1]))
        end--;
    *end = '\0';
    ld_handler(ld, NULL, line, value);
}

/*
 * inih's reader: counts lines (inih gives its handler no line number),
 * strips leading blanks (so inih never joins an indented line to the previous
 * value), takes section headers itself (inih truncates long section names and
 * reports nothing for a section without keys), joins lines ending in '\',
 * and hands the handler itself what inih's buffer (INI_MAX_LINE) is too
 * short for.
 */
static char *ld_reader(char *buf, int size, void *stream)
{
    struct loader *ld = stream;
    bool joined, too_long;
    long len;
    char *start;

    ld_check_key_line(ld);
    len = ld_read_logical(ld, &joined, &too_long);
    if (len < 0)
        return NULL;
    buf[0] = '\0';
    if (too_long) {
        ld_error(ld, ld->line, "line is too long (at most %d characters)", CONFIG_LINE_MAX);
        return buf;
    }
    start = ld->text;
    if (ld->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
        start += 3;
    while (config_blank(*start))
        start++;
    if (start[0] == '[') {
        ld->content = true;
        ld_section(ld, start);
    } else if (joined || strlen(start) + 2 > (size_t)size) {
        ld->content = true;
        ld_long_key(ld, start);
    } else {
        snprintf(buf, (size_t)size, "%s\n", start);
        ld->key_line = buf[0] && !strchr(";#\r\n", buf[0]);
        ld->key_seen = false;
        ld->content |= ld->key_line;
    }
    return buf;
}

/* Does value hold a '#' after a blank: a comment as some INI dialects
 * write it, which inih takes as part of the value? */
static bool has_hash_comment(const char *value)
{
    for (const char *p = strchr(value, '#'); p; p = strchr(p + 1, '#'))
        if (p > value && config_blank(p[-1]))
            return true;
    return false;
}

static int ld_handler(void *user, const char *section, const char *name, const char *value)
{
    struct loader *ld = user;
    struct config_server *srv = &ld->cfg->server;
    size_t errors = ld->errs->n, n_listen = srv->n_listen;

    (void)section;
    ld->key_seen = true;
    if (!*name) {
        ld_error(ld, ld->line, "missing key name before '='");
        return 1;
    }
    schema_key(ld, name, value);
    for (size_t i = n_listen; i < srv->n_listen; i++)
        srv->listen[i].line = ld->line; /* so that a failing bind can name it */
    if (ld->errs->n > errors && has_hash_comment(value))
        ld_error(ld, ld->line,
                 "only ';' starts a comment after a value ('#' only at the "
                 "start of a line)");
    return 1;
}

/* ---- load ---------------------------------------------------------------- */

static void ld_init(struct loader *ld, struct config *cfg, struct config_errors *errs,
                    const char *file)
{
    *cfg = (struct config){0};
    *ld = (struct loader){.cfg = cfg, .errs = errs, .errs_before = errs->n, .file = file};
    schema_io_init(ld);
    schema_defaults(cfg);
    cfg->path = ld_strdup(ld, file);
    ld->file = cfg->path ? cfg->path : file;
}

static void ld_check_routes(struct loader *ld)
{
    const struct config *cfg = ld->cfg;

    for (size_t i = 0; i < cfg->n_routes; i++) {
        for (size_t j = 0; j < i; j++) {
            if (router_same_match(&cfg->routes[j], &cfg->routes[i])) {
                ld_error(ld, cfg->routes[i].line,
                         "duplicate route: %s matches the same host and "
                         "path as %s at line %u",
                         cfg->routes[i].name, cfg->routes[j].name, cfg->routes[j].line);
                break;
            }
        }
    }
}

/* Puts this load's errors in line order (a missing key is found at the end
 * of its section, after the lines below its header). Stable. */
static void ld_sort_errors(struct loader *ld)
{
    struct config_error *e = ld->errs->items;

    for (size_t i = ld->errs_before + 1; i < ld->errs->n; i++) {
        struct config_error cur = e[i];
        size_t j = i;

        for (; j > ld->errs_before && e[j - 1].line > cur.line; j--)
            e[j] = e[j - 1];
        e[j] = cur;
    }
}

/* A configuration that would serve nothing (an empty or truncated file, or
 * one without a route section) is refused, once its other errors are fixed. */
static void ld_check_serves(struct loader *ld)
{
    if (ld_failed(ld) || ld->cfg->n_routes > 0)
        return;
    if (!ld->content)
        ld_error(ld, 0,
                 "the file is empty (or holds only comments): nothing would be served; "
                 "add a route, such as [static /] with root = DIR, and a [server] "
                 "listen = HOST:PORT");
    else
        ld_error(ld, 0,
                 "no route: nothing would be served; add a route section, such as "
                 "[static /] with root = DIR, or [redirect /] with to = URL");
}

/* The command line's overrides, after the file and before the defaults
 * and checks; their errors name the command line. */
static void ld_apply_overrides(struct loader *ld)
{
    const struct config_overrides *o = ld->over;
    struct config_server *s = &ld->cfg->server;
    const char *file = ld->file;

    if (!o)
        return;
    ld->cfg->over = *o;
    ld->file = "command line";
    ld->line = 0;
    if (o->n_listen > 0) {
        s->n_listen = 0;
        for (size_t i = 0; i < o->n_listen; i++)
            schema_listen_add(ld, s, o->listen[i]);
    }
    if (o->quiet) {
        s->access_log = (struct config_log){.target = CONFIG_LOG_OFF};
        if (s->log_level > LOG_LVL_WARN)
            s->log_level = LOG_LVL_WARN;
    }
    ld->file = file;
}

static int ld_finish(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    struct router_error rerr;

    ld_check_key_line(ld);
    ld_section_end(ld);
    ld_apply_overrides(ld);
    if (cfg->server.n_listen == 0)
        schema_listen_add(ld, &cfg->server, CONFIG_DEFAULT_LISTEN);
    schema_identity(ld);
    ld_check_routes(ld);
    ld_check_serves(ld);
    if (!ld_failed(ld) && router_new(&cfg->router, cfg->routes, cfg->n_routes, &rerr) < 0)
        ld_error(ld, cfg->routes[rerr.index].line, "%s cannot be routed",
                 cfg->routes[rerr.index].name);
    if (ld_failed(ld)) {
        ld_sort_errors(ld);
        config_free(cfg);
        return -1;
    }
    return 0;
}

/* The absolute directory of the file at path. */
static int ld_set_dir(struct loader *ld, const char *path)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;

    if (len >= sizeof(dir)) {
        ld_error(ld, 0, "path is too long");
        return -1;
    }
    if (!slash)
        memcpy(dir, ".", 2);
    else if (len == 0)
        memcpy(dir, "/", 2);
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)len, path);
    if (!realpath(dir, real)) {
        ld_error(ld, 0, "cannot resolve its directory: %s", strerror(errno));
        return -1;
    }
    ld->cfg->dir = ld_strdup(ld, real);
    return ld->cfg->dir ? 0 : -1;
}

int config_load(const char *path, struct config *cfg, struct config_errors *errs)
{
    return config_load_over(path, NULL, cfg, errs);
}

int config_load_over(const char *path, const struct config_overrides *o, struct config *cfg,
                     struct config_errors *errs)
{
    struct loader ld;
    int rc;

    ld_init(&ld, cfg, errs, path);
    ld.over = o;
    ld.fp = fopen(path, "re");
    if (!ld.fp) {
        ld_error(&ld, 0, "cannot open: %s", strerror(errno));
        config_free(cfg);
        return -1;
    }
    ld.text = malloc(CONFIG_LINE_MAX + 1);
    if (!ld.text || ld_set_dir(&ld, path) < 0) {
        if (!ld.text)
            ld_error(&ld, 0, "out of memory");
        free(ld.text);
        fclose(ld.fp);
        config_free(cfg);
        return -1;
    }
    rc = ini_parse_stream(ld_reader, &ld, ld_handler, &ld);
    if (ferror(ld.fp))
        ld_error(&ld, 0, "read error: %s", strerror(errno));
    else if (rc != 0 && !ld_failed(&ld))
        ld_error(&ld, rc > 0 ? (unsigned)rc : 0, "syntax error");
    fclose(ld.fp);
    free(ld.text);
    ld.text = NULL;
    return ld_finish(&ld);
}

int config_from_root(const char *root, const struct config_overrides *o, struct config *cfg,
                     struct config_errors *errs)
{
    struct loader ld;
    char cwd[PATH_MAX];

    ld_init(&ld, cfg, errs, "command line");
    ld.over = o;
    if (!getcwd(cwd, sizeof(cwd)) || !(cfg->dir = ld_strdup(&ld, cwd))) {
        ld_error(&ld, 0, "cannot get the current directory: %s", strerror(errno));
        config_free(cfg);
        return -1;
    }
    ld.sec.name = "[static /]";
    if (ld_route_add(&ld, handler_kind_find("static", 6), "/") == 0) {
        schema_key(&ld, "root", root);
        if (o && o->autoindex)
            schema_key(&ld, "autoindex", "on");
    }
    ld.sec = (struct section){.kind = SEC_SKIP};
    return ld_finish(&ld);
}

/* ---- dump ---------------------------------------------------------------- */

int config_dump(const struct config *cfg, FILE *out)
{
    char header[PATH_MAX + 300];

    fprintf(out, "; cohttpd configuration from %s, with every default filled in\n", cfg->path);
    schema_dump_section(out, "[server]", &schema_server, &cfg->server);
    schema_dump_keys(out, &schema_site, &cfg->server.policy);
    if (cfg->server.policy.access.n == 0)
        fputs("allow =\ndeny =\n", out); /* none: shown empty ([server] only) */
    if (cfg->server.policy.n_pages == 0)
        fputs("error_page =\n", out);
    if (!cfg->server.policy.auth_realm)
        fputs("auth_basic =\n", out);
    if (!cfg->server.policy.auth_file)
        fputs("auth_basic_file =\n", out);
    schema_dump_section(out, "[limits]", &schema_limits, &cfg->limits);
    fprintf(out, "\n[mime]\n");
    for (size_t i = 0; i < cfg->n_mime; i++)
        fprintf(out, "%s = %s\n", cfg->mime[i].ext, cfg->mime[i].type);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *r = &cfg->routes[i];
        const struct handler_kind *ks = r->kind;

        snprintf(header, sizeof(header), "[%s %s%s]", ks->name, r->host ? r->host : "", r->prefix);
        schema_dump_section(out, header, ks->schema, r->conf);
        schema_dump_keys(out, &schema_site, r->policy);
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
