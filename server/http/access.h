/* access.h - what a route adds around its handler: allow/deny lists of client addresses. */
#ifndef COHTTPD_HTTP_ACCESS_H
#define COHTTPD_HTTP_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "http/cidr.h"

/* One allow or deny line's address block ("all" is a block of prefix 0). */
struct http_access_rule {
    struct cidr cidr;
    bool allow;
};

/*
 * A route's allow/deny rules, or [server]'s that routes without rules of
 * their own inherit. The configuration owns the array.
 */
struct http_access {
    struct http_access_rule *rules; /* in the order the lines were written */
    size_t n;
    bool any_allow; /* some rule is an allow */
};

/*
 * True when client may be served under a: the first rule whose block holds
 * the client's address decides; a client no rule matches is refused when
 * a has any allow rule, served otherwise (so "allow = 10.0.0.0/8" alone
 * admits that block only, and "deny = 192.0.2.1" alone refuses that
 * address only). A client on a unix socket is always served (the socket
 * file's permissions decide), as is any when a is NULL or has no rule.
 * Never yields.
 */
bool http_access_permits(const struct http_access *a, const struct sockaddr *client);

#endif
