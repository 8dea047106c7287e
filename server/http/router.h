/* router.h - the route table: which configured route serves a host and a path. */
#ifndef COHTTPD_HTTP_ROUTER_H
#define COHTTPD_HTTP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct handler_kind;
struct http_policy;

/*
 * One route: a [KIND MATCH] section of the configuration. The strings, kind
 * and conf belong to whoever built the route (the configuration); the router
 * only points at them, so they must outlive the router. The router matches
 * hosts and prefixes and never reads kind or conf.
 */
struct route {
    const struct handler_kind *kind; /* the daemon's handler table entry */
    const char *host;   /* "example.com", "*.example.com", or NULL (or "") for any host */
    const char *prefix; /* URL path prefix, starts with '/'; "/api" and "/api/" are the same */
    void *conf;         /* what the route's owner attaches (a typed config, a route state) */
    const struct http_policy *policy; /* allow, deny ... (http/policy.h); never read here */
    const char *name; /* the section as written, e.g. "[static /]" (messages, --route) */
    const char *file; /* where the section is: file name and line (0: none) */
    unsigned line;
    /* Set by router_new in its own copy: the length of prefix without a
     * trailing '/' (0 for "/"). Callers building routes leave it 0. */
    size_t prefix_len;
};

struct router;

/* Returned by router_new on failure: which route (index into the array given)
 * was refused and, for a duplicate, which earlier route it repeats. */
struct router_error {
    size_t index;
    size_t other;
};

/*
 * Builds a router over routes[0..n_routes): copies the route structs (not the
 * strings or confs they point to) and precomputes the lookup tables. Host
 * patterns are compared without case, without a trailing dot. Returns 0 and
 * *out, or -EINVAL (a host pattern or prefix is malformed: a prefix must start
 * with '/'; a wildcard must be "*." followed by a name), -EEXIST (two routes
 * have the same host and prefix), -ENOMEM; err (may be NULL) says which.
 * Never yields. Free with router_free.
 */
int router_new(struct router **out, const struct route *routes, size_t n_routes,
               struct router_error *err);

/* Frees a router from router_new (NULL is fine). */
void router_free(struct router *router);

/* Number of routes in the router. */
size_t router_count(const struct router *router);

/*
 * Finds the route for a request: host is the Host header value (any case, an
 * optional :port and trailing dot are ignored; NULL or empty for none), path
 * the normalised URL path (percent-decoded, dot-segments removed, no query).
 * The most specific host group wins (exact name, then wildcards from the
 * longest suffix, then any-host routes) and in it the longest prefix that
 * matches whole segments; when a group has no prefix matching the path, the
 * next less specific group is tried. Returns the router's copy of the route,
 * valid as long as the router, or NULL (no route: 404). No allocation, no
 * locale; safe to call from many threads at once.
 */
const struct route *router_match(const struct router *router, const char *host, size_t host_len,
                                 const char *path, size_t path_len);

/*
 * The URL path below the route's prefix, for a path router_match matched
 * with route: it always starts with '/' ("/api" on "/api" gives "/", on
 * "/api/x/y" gives "/x/y"). Returns a pointer into path (or to a static "/")
 * and its length in *rest_len.
 */
static inline const char *route_rest(const struct route *route, const char *path, size_t path_len,
                                     size_t *rest_len)
{
    if (path_len <= route->prefix_len) {
        *rest_len = 1;
        return "/";
    }
    *rest_len = path_len - route->prefix_len;
    return path + route->prefix_len;
}

/* True when two routes would match exactly the same requests (same host
 * pattern and same prefix, as the router compares them), whatever their kind. */
bool router_same_match(const struct route *a, const struct route *b);

#endif
