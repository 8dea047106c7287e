/* policy.h - the site keys every route takes (and [server] gives as their default). */
#ifndef COHTTPD_HTTP_POLICY_H
#define COHTTPD_HTTP_POLICY_H

#include "http/access.h"

/*
 * What a route adds around its handler, whatever its kind: allow/deny.
 * [server] holds the defaults; a route that sets none of a feature's keys
 * uses [server]'s (see http_policy_access). The configuration owns it.
 */
struct http_policy {
    struct http_access access; /* allow / deny lines, in order */
};

/* The access rules a route with policy route (may be NULL) applies under
 * the default server: its own when it has any, else server's. */
static inline const struct http_access *http_policy_access(const struct http_policy *route,
                                                           const struct http_policy *server)
{
    return route && route->access.n ? &route->access : server ? &server->access : NULL;
}

#endif
