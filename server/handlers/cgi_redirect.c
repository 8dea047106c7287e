/* cgi_redirect.c - a script's local Location: the request dispatched again as a GET. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "handlers/cgi_internal.h"
#include "http/url.h"

/* The most internal redirects one request may take. */
#define CGI_MAX_HOPS 10

/* One request dispatched again: the GET it became, while it runs. */
struct cgi_redirect {
    struct cgi_redirect *next; /* the worker's redirects running now */
    struct cgi_worker *w;
    struct http_request req;
    unsigned hops;
    bool linked;
    char buf[]; /* the target, then its normalised path */
};

static void unlink_redirect(struct cgi_redirect *rd)
{
    struct cgi_redirect **p = &rd->w->redirects;

    while (rd->linked && *p) {
        if (*p == rd) {
            *p = rd->next;
            rd->linked = false;
        } else {
            p = &(*p)->next;
        }
    }
}

/* The request's cleanup: every path, the coroutine's cancel too. */
static void redirect_free(void *data)
{
    unlink_redirect(data);
    free(data);
}

/* Hops x has taken so far: 0 unless its request is one of ours. */
static unsigned hops_of(const struct cgi_worker *w, const struct http_exchange *x)
{
    for (const struct cgi_redirect *rd = w->redirects; rd; rd = rd->next)
        if (&rd->req == x->req)
            return rd->hops;
    return 0;
}

/* The original request as a GET of target[0..len), without a body. */
static void make_get(struct cgi_redirect *rd, const struct http_request *orig, size_t len)
{
    const char *q = memchr(rd->buf, '?', len);
    unsigned n = 0;

    rd->req = *orig;
    rd->req.method = HTTP_GET;
    rd->req.method_name = (struct http_span){.p = "GET", .len = 3};
    rd->req.target = (struct http_span){.p = rd->buf, .len = len};
    rd->req.path = (struct http_span){.p = rd->buf, .len = q ? (size_t)(q - rd->buf) : len};
    rd->req.query =
        (struct http_span){.p = q ? q + 1 : "", .len = q ? len - (size_t)(q - rd->buf) - 1 : 0};
    rd->req.content_length = -1;
    rd->req.chunked = false;
    rd->req.expect_continue = false;
    for (unsigned i = 0; i < orig->header_count; i++) {
        const struct http_span *name = &orig->headers[i].name;

        if ((name->len == 14 && strncasecmp(name->p, "Content-Length", 14) == 0) ||
            (name->len == 12 && strncasecmp(name->p, "Content-Type", 12) == 0) ||
            (name->len == 17 && strncasecmp(name->p, "Transfer-Encoding", 17) == 0))
            continue;
        rd->req.headers[n++] = orig->headers[i];
    }
    rd->req.header_count = n;
    http_request_index(&rd->req);
}

/* Dispatches x again under rd's request and path, then puts x back. */
static void dispatch_again(struct http_exchange *x, struct cgi_redirect *rd, const char *path,
                           size_t path_len, bool slash)
{
    const struct http_request *req = x->req;
    const char *old_path = x->path;
    size_t old_len = x->path_len;
    bool old_slash = x->path_trailing_slash, old_dot = x->path_dot_segment;
    void *worker = x->handler_worker;

    rd->next = rd->w->redirects;
    rd->w->redirects = rd;
    rd->linked = true;
    x->req = &rd->req;
    x->path = path;
    x->path_len = path_len;
    x->path_trailing_slash = slash;
    x->path_dot_segment = true; /* not known: the static handler looks */
    x->site->dispatch(x, x->site->app);
    x->req = req;
    x->path = old_path;
    x->path_len = old_len;
    x->path_trailing_slash = old_slash;
    x->path_dot_segment = old_dot;
    x->handler_worker = worker;
    unlink_redirect(rd);
}

void cgi_redirect(struct http_exchange *x, struct cgi_worker *w, const char *file,
                  const char *location, size_t len)
{
    unsigned hops = hops_of(w, x) + 1;
    struct cgi_redirect *rd;
    bool slash = false;
    char *path;
    int n;

    if (hops > CGI_MAX_HOPS) {
        log_warn("cgi %s: more than %d internal redirects", file, CGI_MAX_HOPS);
        http_resp_error(x, 500, NULL);
        return;
    }
    rd = calloc(1, sizeof *rd + 2 * (len + 1));
    if (!rd || http_exchange_defer(x, redirect_free, rd) < 0) {
        free(rd);
        http_resp_error(x, 503, NULL);
        return;
    }
    rd->w = w;
    rd->hops = hops;
    memcpy(rd->buf, location, len);
    make_get(rd, x->req, len);
    path = rd->buf + len + 1;
    n = url_normalize_path(rd->req.path.p, rd->req.path.len, path, len + 1, &slash);
    if (n < 0) {
        log_warn("cgi %s: a Location that cannot be served: %.*s", file, (int)len, location);
        http_resp_error(x, 502, NULL);
        return;
    }
    dispatch_again(x, rd, path, (size_t)n, slash);
}
