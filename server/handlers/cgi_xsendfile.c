/* cgi_xsendfile.c - X-Sendfile: a script names a file below x_sendfile, the static handler serves
 * it. */
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "handlers/cgi_internal.h"
#include "handlers/static.h"
#include "handlers/static_cache.h"
#include "handlers/static_serve.h"

/* What a failed lookup of the named file deserves, with its log line. */
static void xsendfile_failed(struct http_exchange *x, const char *file, const char *path, int e)
{
    int status = e == -EXDEV || e == -ELOOP                      ? 502
                 : e == -ENOENT || e == -EISDIR || e == -ENOTDIR ? 404
                 : e == -EACCES                                  ? 403
                 : e == -EMFILE || e == -ENFILE || e == -ENOMEM  ? 503
                                                                 : 500;

    log_warn("cgi %s: X-Sendfile %s: %s (answered %d)", file, path,
             status == 502 ? "leaves the x_sendfile directory" : strerror(-e), status);
    http_resp_error(x, status, NULL);
}

void cgi_xsendfile(struct http_exchange *x, const struct cgi_route *route, struct cgi_worker *w,
                   const char *file, const char *path, size_t len)
{
    const char *dir = route->conf->x_sendfile;
    size_t dir_len = strcmp(dir, "/") == 0 ? 0 : strlen(dir), rel_len;
    char rel[STATIC_PATH_MAX + STATIC_SUFFIX_ROOM];
    struct static_file *f;
    void *worker;
    int e;

    if (len <= dir_len + 1 || memcmp(path, dir, dir_len) != 0 || path[dir_len] != '/' ||
        len - dir_len - 1 > STATIC_PATH_MAX) {
        log_warn("cgi %s: X-Sendfile %s is not below x_sendfile %s (answered 502)", file, path,
                 dir);
        http_resp_error(x, 502, NULL);
        return;
    }
    rel_len = len - dir_len - 1;
    memcpy(rel, path + dir_len + 1, rel_len);
    rel[rel_len] = '\0';
    if (!w->xs_cache && !(w->xs_cache = static_cache_new())) {
        http_resp_error(x, 503, NULL);
        return;
    }
    e = static_file_get(w->xs_cache, route->xs_root, rel, rel_len, loop_now(x->loop), &f);
    if (e < 0) {
        xsendfile_failed(x, file, path, e);
        return;
    }
    /* The static machinery finds its open-file cache through the exchange. */
    worker = x->handler_worker;
    x->handler_worker = w->xs_cache;
    static_serve_file(x, route->xs_root, f, rel, rel_len);
    x->handler_worker = worker;
    static_file_release(f);
}
