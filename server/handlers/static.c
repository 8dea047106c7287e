/* static.c - the static file handler: methods, paths below the root, directories, fallback. */
#include "handlers/static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "handlers/static_cache.h"
#include "handlers/static_index.h"
#include "handlers/static_internal.h"
#include "handlers/static_serve.h"
#include "http/mime.h"
#include "http/status.h"
#include "http/url.h"

/* Retries of openat2 when the kernel reports a concurrent rename (EAGAIN). */
#define OPEN_RETRIES 4

static _Atomic uint64_t next_root_id = 1;

/* Every file is opened with openat2. Where the kernel lacks it (before
 * Linux 5.6) or a seccomp filter refuses it, say so once, at startup,
 * rather than answer every request with an error. */
static int probe_openat2(int dirfd)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
    long fd = syscall(SYS_openat2, dirfd, ".", &how, sizeof how);

    if (fd < 0)
        return errno == EPERM ? -ENOSYS : -errno;
    close((int)fd);
    return 0;
}

struct static_root *static_root_open(const struct static_conf *conf)
{
    struct static_root *root = calloc(1, sizeof *root);
    int r;

    if (!root)
        return NULL;
    root->conf = conf;
    root->id = atomic_fetch_add_explicit(&next_root_id, 1, memory_order_relaxed);
    root->dirfd = open(conf->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->dirfd < 0) {
        free(root);
        return NULL;
    }
    if ((r = probe_openat2(root->dirfd)) < 0) {
        close(root->dirfd);
        free(root);
        errno = -r;
        return NULL;
    }
    return root;
}

void static_root_close(struct static_root *root)
{
    if (!root)
        return;
    close(root->dirfd);
    free(root);
}

int static_open_beneath(const struct static_root *root, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = -1;

    for (int i = 0; i < OPEN_RETRIES; i++) {
        fd = syscall(SYS_openat2, root->dirfd, rel, &how, sizeof how);
        if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
            break;
    }
    return fd < 0 ? -errno : (int)fd;
}

void static_add_conf_headers(struct http_exchange *x, const struct static_conf *conf)
{
    for (size_t i = 0; i < conf->n_headers; i++)
        http_resp_header(x, conf->headers[i].name, conf->headers[i].name_len,
                         conf->headers[i].value, conf->headers[i].value_len);
}

void static_reply_status(struct http_exchange *x, const struct static_conf *conf, int status,
                         const char *allow)
{
    size_t len;
    const char *body = http_status_body(status, &len);

    if (http_resp_error_page(x, status, allow ? "Allow" : NULL, allow) != -ENOENT)
        return;
    if (http_resp_begin(x, status) < 0)
        return;
    if (allow)
        http_resp_header(x, "Allow", 5, allow, strlen(allow));
    static_add_conf_headers(x, conf);
    if (!http_status_allows_body(status)) {
        http_resp_body(x, NULL, 0);
        return;
    }
    http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    http_resp_body(x, body, len);
}

/* True for GET and HEAD; answers every other method itself. */
static bool method_ok(struct http_exchange *x, const struct static_conf *conf)
{
    switch (x->req->method) {
    case HTTP_GET:
    case HTTP_HEAD: return true;
    case HTTP_OPTIONS: static_reply_status(x, conf, 204, STATIC_ALLOW); return false;
    default: static_reply_status(x, conf, 405, STATIC_ALLOW); return false;
    }
}

/* True when a segment of path starts with '.' (".git", ".env", ".htpasswd"). */
static bool has_dotfile(const char *path, size_t len)
{
    const char *end = path + len, *dot = path;

    while ((dot = memchr(dot, '.', (size_t)(end - dot)))) {
        if (dot == path || dot[-1] == '/')
            return true;
        dot++;
    }
    return false;
}

/* False when rest, a part of the request's normalised path, cannot hold a
 * segment starting with '.' because the path holds none (url.h). */
static bool may_have_dotfile(const struct http_exchange *x, const char *rest, size_t rest_len)
{
    uintptr_t r = (uintptr_t)rest, p = (uintptr_t)x->path;

    return x->path_dot_segment || r < p || r + rest_len > p + x->path_len;
}

/* 301 to the request's path with a slash added, query kept. */
static void redirect_slash(struct http_exchange *x, const struct static_conf *conf)
{
    const struct http_span *q = &x->req->query;
    size_t cap = url_percent_encode_path(x->path, x->path_len, NULL, 0) + 3 + q->len, n;
    char *location = malloc(cap);
    const char *body;
    size_t body_len;

    if (!location) {
        static_reply_status(x, conf, 503, NULL);
        return;
    }
    n = url_percent_encode_path(x->path, x->path_len, location, cap);
    location[n++] = '/';
    if (q->len > 0) {
        location[n++] = '?';
        memcpy(location + n, q->p, q->len);
        n += q->len;
    }
    body = http_status_body(301, &body_len);
    if (http_resp_begin(x, 301) == 0) {
        http_resp_header(x, "Location", 8, location, n);
        static_add_conf_headers(x, conf);
        http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
        http_resp_body(x, body, body_len);
    }
    free(location);
}

/* Serves the file at rel (in a buffer of STATIC_PATH_MAX + STATIC_SUFFIX_ROOM
 * bytes). Returns 0 once answered, else what static_file_get said. */
static int serve_rel(struct http_exchange *x, const struct static_root *root, char *rel, size_t len)
{
    struct static_file *f;
    int r = static_file_get(x->handler_worker, root, len ? rel : ".", len ? len : 1,
                            loop_now(x->loop), &f);

    http_count_file_cache(x, static_cache_last_hit(x->handler_worker));
    if (r < 0)
        return r;
    static_serve_file(x, root, f, rel, len);
    static_file_release(f);
    return 0;
}

/* SPA fallback: conf->fallback below the root, served with 200; rel is
 * the request's path buffer, reused. */
static void serve_fallback(struct http_exchange *x, const struct static_root *root, char *rel)
{
    const char *fallback = root->conf->fallback;
    size_t len = fallback ? strlen(fallback) : 0;

    if (len < 2 || len > STATIC_PATH_MAX) {
        static_reply_status(x, root->conf, 404, NULL);
        return;
    }
    memcpy(rel, fallback + 1, len); /* the NUL too */
    if (serve_rel(x, root, rel, len - 1) < 0)
        static_reply_status(x, root->conf, 404, NULL);
}

/* Answers a path that could not be served (rel: its buffer, reused). A
 * path leaving the root is answered like a missing file (404) but without
 * the fallback, so that nothing outside is disclosed. */
static void answer_failure(struct http_exchange *x, const struct static_root *root, char *rel,
                           int err)
{
    switch (err) {
    case -ENOENT:
    case -ENOTDIR:
    case -ENAMETOOLONG: serve_fallback(x, root, rel); return;
    case -EACCES: static_reply_status(x, root->conf, 403, NULL); return;
    case -EMFILE:
    case -ENFILE:
    case -ENOMEM: static_reply_status(x, root->conf, 503, NULL); return;
    case -EXDEV: /* leaves the root */
    case -ELOOP: /* a magic link, or too many links */
    case -ENXIO: /* a socket */ static_reply_status(x, root->conf, 404, NULL); return;
    default:
        log_error("static %s: cannot open %s: %s", root->conf->root, rel, strerror(-err));
        static_reply_status(x, root->conf, 500, NULL);
        return;
    }
}

/* Serves the directory rel[0..len) (ending in '/', or empty for the
 * root): the first index file that exists, else a listing (autoindex).
 * Returns 0 once answered, else why not: -ENOENT (nothing to serve),
 * -EXDEV or -ELOOP (it leads out of the root), -EMFILE ... */
static int try_directory(struct http_exchange *x, const struct static_root *root, char *rel,
                         size_t len)
{
    const struct static_conf *conf = root->conf;
    int r, why = -ENOENT;

    for (size_t i = 0; i < conf->n_index; i++) {
        size_t n = strlen(conf->index[i]);

        if (len + n > STATIC_PATH_MAX)
            continue;
        memcpy(rel + len, conf->index[i], n + 1);
        r = serve_rel(x, root, rel, len + n);
        if (r == 0 || r == -EMFILE || r == -ENFILE || r == -ENOMEM)
            return r;
        if (r == -EXDEV || r == -ELOOP)
            why = r; /* the directory leads out of the root */
    }
    rel[len] = '\0';
    r = conf->autoindex ? static_index_serve(x, root, len ? rel : ".") : why;
    return r == -EISDIR ? -ENOENT : r;
}

/* A path ending in '/': the first index file that exists, else a listing
 * (autoindex), else the fallback or 404. */
static void serve_directory(struct http_exchange *x, const struct static_root *root, char *rel,
                            size_t len)
{
    int r = try_directory(x, root, rel, len);

    if (r < 0)
        answer_failure(x, root, rel, r);
}

/* Writes candidate t with "{path}" as rest into out (STATIC_PATH_MAX + 1
 * bytes) without its leading '/' and with no "//". Returns the length, or
 * -1 when it does not fit. */
static ssize_t try_expand(const char *t, const char *rest, size_t rest_len, char *out)
{
    size_t n = 0;
    char prev = '/';

    for (; *t; t++) {
        const char *p = t;
        size_t len = 1;

        if (strncmp(t, "{path}", 6) == 0) {
            p = rest;
            len = rest_len;
            t += 5;
        }
        for (size_t i = 0; i < len; prev = p[i++]) {
            if (p[i] == '/' && prev == '/')
                continue;
            if (n == STATIC_PATH_MAX)
                return -1;
            out[n++] = p[i];
        }
    }
    out[n] = '\0';
    return (ssize_t)n;
}

/* try: the first candidate that exists is served; none: the last's status
 * (=STATUS) or 404. A candidate ending in '/' is a directory, any other a
 * file (a directory does not match it). */
static void serve_try(struct http_exchange *x, const struct static_root *root, const char *rest,
                      size_t rest_len, char *rel)
{
    const struct static_conf *conf = root->conf;
    int r = -ENOENT;

    for (size_t i = 0; i < conf->n_try && (r == -ENOENT || r == -EISDIR); i++) {
        ssize_t len = try_expand(conf->try_paths[i], rest, rest_len, rel);

        if (len < 0 || (conf->dotfiles == STATIC_DOTFILES_DENY && has_dotfile(rel, (size_t)len)))
            continue;
        if (len == 0 || rel[len - 1] == '/')
            r = try_directory(x, root, rel, (size_t)len);
        else
            r = serve_rel(x, root, rel, (size_t)len);
        if (r == -ENOTDIR || r == -ENAMETOOLONG)
            r = -ENOENT;
    }
    if (r == 0)
        return;
    if (r == -ENOENT || r == -EISDIR)
        static_reply_status(x, conf, conf->try_status ? conf->try_status : 404, NULL);
    else
        answer_failure(x, root, rel, r == -EXDEV || r == -ELOOP ? -EXDEV : r);
}

static void static_handle(struct http_exchange *x, void *state, const char *rest, size_t rest_len)
{
    const struct static_root *root = state;
    const struct static_conf *conf = root->conf;
    char rel[STATIC_PATH_MAX + STATIC_SUFFIX_ROOM];
    size_t len = rest_len > 0 ? rest_len - 1 : 0;
    int r;

    if (!method_ok(x, conf))
        return;
    if (conf->dotfiles == STATIC_DOTFILES_DENY && may_have_dotfile(x, rest, rest_len) &&
        has_dotfile(rest, rest_len)) {
        static_reply_status(x, conf, 404, NULL);
        return;
    }
    if (conf->n_try) {
        serve_try(x, root, rest, rest_len, rel);
        return;
    }
    if (len > STATIC_PATH_MAX) {
        answer_failure(x, root, rel, -ENAMETOOLONG);
        return;
    }
    memcpy(rel, rest + 1, len);
    rel[len] = '\0';
    if (x->path_trailing_slash) {
        serve_directory(x, root, rel, len);
        return;
    }
    r = serve_rel(x, root, rel, len);
    if (r == -EISDIR)
        redirect_slash(x, conf);
    else if (r < 0)
        answer_failure(x, root, rel, r);
}

/* handler_kind.serve_page: the file at rest, sent whole with status. */
static int static_serve_page(struct http_exchange *x, void *state, const char *rest,
                             size_t rest_len, int status, const char *name, const char *value)
{
    const struct static_root *root = state;
    const char *type;
    size_t type_len;
    struct static_file *f;
    int r;

    if (rest_len < 2 || rest_len - 1 > STATIC_PATH_MAX || has_dotfile(rest, rest_len) ||
        static_file_get(x->handler_worker, root, rest + 1, rest_len - 1, loop_now(x->loop), &f) < 0)
        return -ENOENT;
    type = mime_lookup(x->site->mime, rest + 1, rest_len - 1, &type_len);
    r = http_resp_begin(x, status);
    if (r == 0) {
        if (name)
            http_resp_header(x, name, strlen(name), value, strlen(value));
        static_add_conf_headers(x, root->conf);
        http_resp_header(x, "Content-Type", 12, type, type_len);
        r = f->data ? http_resp_body(x, f->data, (size_t)f->size)
                    : http_resp_sendfile(x, f->fd, 0, (size_t)f->size);
    }
    static_file_release(f);
    return r == -ENOENT ? -EIO : r;
}

/* ---- the kind ------------------------------------------------------------ */

static int static_route_open(const void *conf, size_t index, void **state, char *err,
                             size_t err_len)
{
    const struct static_conf *sc = conf;
    struct static_root *root = static_root_open(sc);
    int e = errno;

    (void)index;
    if (!root) {
        snprintf(err, err_len, "cannot open root %s: %s", sc->root,
                 e == ENOSYS ? "openat2 is not allowed here (it needs Linux 5.6 or later, and "
                               "any seccomp filter must allow it)"
                             : strerror(e));
        return -e;
    }
    *state = root;
    return 0;
}

static void static_route_close(void *state) { static_root_close(state); }

static int static_worker_init(void **worker, size_t n_routes)
{
    (void)n_routes;
    *worker = static_cache_new();
    return *worker ? 0 : -ENOMEM;
}

static void static_worker_teardown(void *worker) { static_cache_free(worker); }

/* The file a path maps to (root + the path below the prefix; not opened),
 * and for a directory the index files and listing, then the fallback. */
/* True when a segment of path[0..len) starts with '.'. */
static bool has_dot_segment(const char *path, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (path[i] == '/' && path[i + 1] == '.')
            return true;
    }
    return false;
}

static bool method_is(const struct handler_target *t, const char *name)
{
    return t->method_len == strlen(name) && memcmp(t->method, name, t->method_len) == 0;
}

/* --route: the status a method other than GET and HEAD, a hidden dotfile
 * or a missing file gets, as static_handle answers them. False when the
 * request would reach a file or directory. */
static bool describe_refusal(FILE *out, const struct static_conf *sc, const char *file,
                             const struct handler_target *t)
{
    struct stat st;

    if (method_is(t, "OPTIONS")) {
        fprintf(out, "status: 204 No Content\nallow: %s\n", STATIC_ALLOW);
        return true;
    }
    if (!method_is(t, "GET") && !method_is(t, "HEAD")) {
        fprintf(out, "status: 405 Method Not Allowed\nallow: %s\n", STATIC_ALLOW);
        return true;
    }
    if (sc->dotfiles == STATIC_DOTFILES_DENY && has_dot_segment(t->rest, t->rest_len)) {
        fputs("status: 404 Not Found (a hidden dotfile: dotfiles = deny)\n", out);
        return true;
    }
    if (stat(file, &st) == 0)
        return false;
    if (sc->fallback || sc->n_try)
        return false; /* the fallback or try line says what is served */
    fputs("status: 404 Not Found (no such file)\n", out);
    return true;
}

/* --route: try's candidates for t, as files below root, in order. */
static void describe_try(FILE *out, const struct static_conf *sc, const char *root,
                         const struct handler_target *t)
{
    char rel[STATIC_PATH_MAX + 1];

    if (!sc->n_try)
        return;
    fputs("try:", out);
    for (size_t i = 0; i < sc->n_try; i++) {
        if (try_expand(sc->try_paths[i], t->rest, t->rest_len, rel) >= 0)
            fprintf(out, " %s/%s", root, rel);
    }
    fprintf(out, " (the first that exists; none: %d)\n", sc->try_status ? sc->try_status : 404);
}

static void static_describe(FILE *out, const void *conf, const struct handler_target *t)
{
    const struct static_conf *sc = conf;
    const char *root = strcmp(sc->root, "/") == 0 ? "" : sc->root;
    char file[PATH_MAX];

    snprintf(file, sizeof file, "%s%.*s", root, (int)t->rest_len, t->rest);
    fprintf(out, "file: %s\n", file);
    if (sc->compress)
        fprintf(out,
                "compress: br, zstd or gzip by Accept-Encoding for %zu types from %llu bytes "
                "(levels gzip:%d br:%d zstd:%d), kept up to %llu bytes per worker\n",
                sc->n_compress_types, (unsigned long long)sc->compress_min_size,
                sc->compress_level[STATIC_ENCODING_GZIP], sc->compress_level[STATIC_ENCODING_BR],
                sc->compress_level[STATIC_ENCODING_ZSTD],
                (unsigned long long)sc->compress_cache_size);
    if (describe_refusal(out, sc, file, t))
        return;
    if (t->rest[t->rest_len - 1] == '/') {
        fputs("index:", out);
        for (size_t i = 0; i < sc->n_index; i++)
            fprintf(out, " %s", sc->index[i]);
        fprintf(out, "%s\nautoindex: %s\n", sc->n_index ? "" : " (none)",
                sc->autoindex ? "on" : "off");
    }
    if (sc->fallback)
        fprintf(out, "fallback: %s%s (when no file matches)\n", root, sc->fallback);
    describe_try(out, sc, root, t);
}

const struct handler_kind static_kind = {
    .name = "static",
    .schema = &static_schema,
    .conf_size = sizeof(struct static_conf),
    .conf_init = static_conf_defaults,
    .open = static_route_open,
    .close = static_route_close,
    .worker_init = static_worker_init,
    .worker_teardown = static_worker_teardown,
    .handle = static_handle,
    .describe = static_describe,
    .serve_page = static_serve_page,
};
