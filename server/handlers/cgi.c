/* cgi.c - the cgi route kind: its keys, its root, finding the script, --route. */
#include "handlers/cgi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handlers/cgi_internal.h"
#include "handlers/compress_stream.h"
#include "handlers/static_cache.h"
#include "handlers/static.h"
#include "handlers/static_internal.h"

/* ---- finding the script ---------------------------------------------------- */

/* What segment rel[0..end) (NUL-terminated there) is: 1 a directory, 0 an
 * executable regular file, or minus a status. */
static int segment_kind(const struct static_root *root, const char *rel)
{
    struct stat st;
    int fd = static_open_beneath(root, rel, O_RDONLY | O_NONBLOCK), r;

    if (fd < 0) {
        switch (fd) {
        case -EACCES: return -403;
        case -EMFILE:
        case -ENFILE: return -503;
        case -ENAMETOOLONG: return -414;
        default: return -404; /* missing, or leaving the root (EXDEV, ELOOP) */
        }
    }
    r = fstat(fd, &st);
    close(fd);
    if (r < 0)
        return -500;
    if (S_ISDIR(st.st_mode))
        return 1;
    if (!S_ISREG(st.st_mode))
        return -404;
    return (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) ? 0 : -403;
}

int cgi_lookup(const struct cgi_route *route, const char *rest, size_t rest_len,
               struct cgi_script *s)
{
    const char *root = route->conf->root;
    size_t root_len = strcmp(root, "/") == 0 ? 0 : strlen(root);
    char rel[STATIC_PATH_MAX + 1];
    size_t len = rest_len - 1, end = 0;

    if (len > STATIC_PATH_MAX || root_len + 1 + len >= sizeof s->file)
        return -414;
    memcpy(rel, rest + 1, len);
    rel[len] = '\0';
    while (end < len) {
        size_t start = end;
        int kind;

        if (rel[start] == '.')
            return -404;
        while (end < len && rel[end] != '/')
            end++;
        rel[end] = '\0';
        kind = segment_kind(route->root, rel);
        if (kind < 0)
            return kind;
        if (kind == 0) {
            s->name_len = end + 1;
            memcpy(s->file, root, root_len);
            s->file[root_len] = '/';
            memcpy(s->file + root_len + 1, rel, end + 1);
            s->dir_len = root_len + start; /* root, or root + '/' + the directories */
            if (s->dir_len == 0)
                s->dir_len = 1; /* the root is "/" */
            return 0;
        }
        rel[end++] = '/';
    }
    return -404; /* the path ends in a directory */
}

/* ---- the kind ------------------------------------------------------------- */

static int cgi_route_open(const void *conf, size_t index, void **state, char *err, size_t err_len)
{
    const struct cgi_conf *cc = conf;
    struct cgi_route *route = calloc(1, sizeof *route);
    int e;

    (void)index;
    if (!route)
        return -ENOMEM;
    route->conf = cc;
    route->files = (struct static_conf){.root = cc->root};
    route->root = static_root_open(&route->files);
    if (!route->root) {
        e = errno;
        snprintf(err, err_len, "cannot open root %s: %s", cc->root, strerror(e));
        free(route);
        return -e;
    }
    if (cc->x_sendfile) {
        route->xs_files = (struct static_conf){.root = cc->x_sendfile};
        route->xs_root = static_root_open(&route->xs_files);
        if (!route->xs_root) {
            e = errno;
            snprintf(err, err_len, "cannot open x_sendfile %s: %s", cc->x_sendfile, strerror(e));
            static_root_close(route->root);
            free(route);
            return -e;
        }
    }
    *state = route;
    return 0;
}

static void cgi_route_close(void *state)
{
    struct cgi_route *route = state;

    static_root_close(route->root);
    static_root_close(route->xs_root);
    free(route);
}

static int cgi_worker_init(void **worker, size_t n_routes)
{
    (void)n_routes;
    *worker = calloc(1, sizeof(struct cgi_worker));
    return *worker ? 0 : -ENOMEM;
}

static void cgi_worker_teardown(void *worker)
{
    struct cgi_worker *w = worker;

    if (w->xs_cache)
        static_cache_free(w->xs_cache);
    free(w);
}

static void cgi_handle(struct http_exchange *x, void *state, const char *rest, size_t rest_len)
{
    const struct cgi_route *route = state;
    struct cgi_worker *w = x->handler_worker;
    struct cgi_script *s = malloc(sizeof *s);
    int r;

    if (!s) {
        http_resp_error(x, 503, NULL);
        return;
    }
    r = cgi_lookup(route, rest, rest_len, s);
    if (r < 0) {
        free(s);
        http_resp_error(x, -r, NULL);
        return;
    }
    cgi_run(x, route, w, s, rest, rest_len); /* s is the run's now */
}

/* The script and PATH_INFO a path maps to (the file system is read). */
static void cgi_describe(FILE *out, const void *conf, const struct handler_target *t)
{
    struct cgi_route route = {.conf = conf};
    struct cgi_script s;
    int r;

    cstream_describe(out, route.conf->compress);
    route.files = (struct static_conf){.root = route.conf->root};
    route.root = static_root_open(&route.files);
    if (!route.root) {
        fprintf(out, "script: none (root %s: %s)\n", route.conf->root, strerror(errno));
        return;
    }
    r = cgi_lookup(&route, t->rest, t->rest_len, &s);
    static_root_close(route.root);
    if (r < 0) {
        fprintf(out, "script: none (%d)\n", -r);
        return;
    }
    fprintf(out, "script: %s\npath_info: %.*s\n", s.file, (int)(t->rest_len - s.name_len),
            t->rest + s.name_len);
}

/* ---- keys ----------------------------------------------------------------- */

static bool env_name_ok(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static void parse_env(struct conf_io *io, const struct key_spec *key, void *obj, const char *value)
{
    struct cgi_conf *cc = obj;
    const char *eq = strchr(value, '=');

    (void)key;
    if (!eq || !env_name_ok(value, (size_t)(eq - value)))
        conf_error(io, "env '%s' is not NAME=value (NAME of letters, digits and '_')", value);
    else if (!conf_header_value_ok(eq + 1))
        conf_error(io, "env '%s' has a control character in its value", value);
    else if (cc->n_env == CGI_MAX_ENV)
        conf_error(io, "too many env lines (at most %d per route)", CGI_MAX_ENV);
    else
        cc->env[cc->n_env++] = conf_strdup(io, value);
}

static void dump_env(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct cgi_conf *cc = obj;

    for (size_t i = 0; i < cc->n_env; i++)
        fprintf(out, "%s = %s\n", key->name, cc->env[i]);
}

#define DAY_MS (24ull * 3600 * 1000)

static const struct key_spec cgi_keys[] = {
    {.name = "root",
     .type = VT_CUSTOM,
     .offset = offsetof(struct cgi_conf, root),
     .required = true,
     .parse = static_parse_root,
     .dump = conf_dump_string},
    {.name = "timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct cgi_conf, timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = DAY_MS},
    {.name = "idle_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct cgi_conf, idle_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = DAY_MS},
    {.name = "max_scripts",
     .type = VT_NUMBER,
     .offset = offsetof(struct cgi_conf, max_scripts),
     .width = sizeof(unsigned),
     .min = 1,
     .max = 65536},
    {.name = "env", .type = VT_CUSTOM, .repeatable = true, .parse = parse_env, .dump = dump_env},
    {.name = "x_sendfile",
     .type = VT_CUSTOM,
     .offset = offsetof(struct cgi_conf, x_sendfile),
     .parse = static_parse_root,
     .dump = conf_dump_string},
    {.name = "compress",
     .type = VT_BOOL,
     .offset = offsetof(struct cgi_conf, compress),
     .width = sizeof(bool)},
};

static const struct section_spec cgi_schema = {.keys = cgi_keys,
                                               .n_keys = sizeof cgi_keys / sizeof cgi_keys[0]};

static void cgi_defaults(void *conf)
{
    *(struct cgi_conf *)conf = (struct cgi_conf){
        .timeout_ms = 30000,
        .idle_timeout_ms = 30000,
        .max_scripts = 64,
    };
}

const struct handler_kind cgi_kind = {
    .name = "cgi",
    .schema = &cgi_schema,
    .conf_size = sizeof(struct cgi_conf),
    .conf_init = cgi_defaults,
    .open = cgi_route_open,
    .close = cgi_route_close,
    .worker_init = cgi_worker_init,
    .worker_teardown = cgi_worker_teardown,
    .handle = cgi_handle,
    .describe = cgi_describe,
};
