/* proxy.h - the proxy handler: HTTP/1.1 to upstreams over TCP or unix sockets. */
#ifndef COHTTPD_HANDLERS_PROXY_H
#define COHTTPD_HANDLERS_PROXY_H

#include "handlers/kinds.h"

/*
 * [proxy MATCH]: each request is rebuilt (method, target as received,
 * HTTP/1.1, Host, the client's end-to-end headers, X-Forwarded-* and
 * Forwarded) and sent to one upstream picked by smooth weighted round
 * robin; its body streams up while the upstream's response, parsed
 * strictly, streams back, with at most 64 KiB buffered per direction.
 * Route state: the conf and the route's rank. Worker state: a pool of idle
 * keep-alive upstream connections per route and upstream, and the
 * balancer's weights (handlers/proxy_internal.h).
 */
extern const struct handler_kind proxy_kind;

#endif
