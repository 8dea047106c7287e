/* policy.h - the site keys every route takes (and [server] gives as their default). */
#ifndef COHTTPD_HTTP_POLICY_H
#define COHTTPD_HTTP_POLICY_H

#include <stdbool.h>

#include "http/access.h"

/* One error_page entry: the page at path (a URL path, served by the
 * static route that matches it) answers the errors of status. */
struct http_error_page {
    int status;
    const char *path;
};

/*
 * What a route adds around its handler, whatever its kind: allow/deny,
 * error pages.
 * [server] holds the defaults; a route that sets none of a feature's keys
 * uses [server]'s (see http_policy_access). The configuration owns it.
 */
struct http_policy {
    struct http_access access;     /* allow / deny lines, in order */
    struct http_error_page *pages; /* error_page lines, one entry per status */
    size_t n_pages;
    const char *auth_realm; /* auth_basic: the realm of WWW-Authenticate, or NULL */
    const char *auth_file;  /* auth_basic_file: an htpasswd file checked at load, or NULL */
    bool auth_off;          /* auth_basic = off: no authentication, whatever [server] says */
};

/* The access rules a route with policy route (may be NULL) applies under
 * the default server: its own when it has any, else server's. */
static inline const struct http_access *http_policy_access(const struct http_policy *route,
                                                           const struct http_policy *server)
{
    return route && route->access.n ? &route->access : server ? &server->access : NULL;
}

/* The error page path for status under route's pages (its own when it has
 * any, else server's), or NULL. */
static inline const char *http_policy_page(const struct http_policy *route,
                                           const struct http_policy *server, int status)
{
    const struct http_policy *p = route && route->n_pages ? route : server;

    for (size_t i = 0; p && i < p->n_pages; i++) {
        if (p->pages[i].status == status)
            return p->pages[i].path;
    }
    return NULL;
}

/* The htpasswd file a route with policy route (may be NULL) checks
 * credentials against under the default server: its own auth_basic_file,
 * else server's; NULL when neither sets one or the route says
 * auth_basic = off. */
static inline const char *http_policy_auth_file(const struct http_policy *route,
                                                const struct http_policy *server)
{
    if (route && route->auth_off)
        return NULL;
    return route && route->auth_file ? route->auth_file : server ? server->auth_file : NULL;
}

/* The realm that goes with http_policy_auth_file: the route's auth_basic,
 * else server's, else NULL (the built-in one). */
static inline const char *http_policy_auth_realm(const struct http_policy *route,
                                                 const struct http_policy *server)
{
    return route && route->auth_realm ? route->auth_realm : server ? server->auth_realm : NULL;
}

#endif
