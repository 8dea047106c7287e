/* cgi_internal.h - what the CGI handler's files share: the route, the worker, one run. */
#ifndef COHTTPD_HANDLERS_CGI_INTERNAL_H
#define COHTTPD_HANDLERS_CGI_INTERNAL_H

#include <stddef.h>

#include "handlers/cgi.h"
#include "handlers/conf.h"
#include "http/exchange.h"

struct static_root;

/* One [cgi] route of one generation: read-only, shared by the workers. */
struct cgi_route {
    const struct cgi_conf *conf;
    struct static_conf files; /* the root as static.h opens it */
    struct static_root *root;
    struct static_conf xs_files; /* x_sendfile's directory, when set */
    struct static_root *xs_root;
};

struct cgi_redirect;

/* A worker's scripts (worker state; its thread only). */
struct cgi_worker {
    unsigned running;
    struct cgi_redirect *redirects; /* requests dispatched again, running now */
    uint64_t log_tokens_at;         /* stderr lines: the bucket's last refill (loop ms) */
    unsigned log_tokens;
    struct static_cache *xs_cache; /* X-Sendfile's open files, made at the first one */
};

/* The script a request names. */
struct cgi_script {
    size_t name_len; /* bytes of rest naming the script (from its '/') */
    char file[4200]; /* root + the script's path */
    size_t dir_len;  /* bytes of file naming its directory */
};

/*
 * Finds the script that rest (the normalised path below the prefix,
 * starting with '/') names beneath route: the first segment that is an
 * executable regular file. Returns 0 with *s filled, or minus a status:
 * 404 (a directory, a missing file, a dotfile segment, a path leaving the
 * root), 403 (not executable, or not readable), 414 (too long), 503 (no
 * descriptor left), 500. Never yields.
 */
int cgi_lookup(const struct cgi_route *route, const char *rest, size_t rest_len,
               struct cgi_script *s);

/* Runs the script s for x (cgi_run.c) and answers x; a local Location
 * without a Status goes through cgi_redirect() once the script is gone.
 * s (malloc'd) becomes the run's: it is freed when the request ends, on
 * every path. May yield. */
void cgi_run(struct http_exchange *x, const struct cgi_route *route, struct cgi_worker *w,
             struct cgi_script *s, const char *rest, size_t rest_len);

/*
 * A script (file, for log lines) answered with the local Location
 * location[0..len): dispatches x again, from the router on, as a GET of
 * that target without a body (the request's other fields kept), at most
 * 10 times per request (then 500). The client sees only the final answer;
 * the access log shows the original request. May yield.
 */
void cgi_redirect(struct http_exchange *x, struct cgi_worker *w, const char *file,
                  const char *location, size_t len);

/* Answers x with the file path[0..len) that a script (file, for log
 * lines) named in X-Sendfile, below route's x_sendfile directory
 * (cgi_xsendfile.c). May yield. */
void cgi_xsendfile(struct http_exchange *x, const struct cgi_route *route, struct cgi_worker *w,
                   const char *file, const char *path, size_t len);

#endif
