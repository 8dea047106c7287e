/* client.h - the real client address: the peer, or whom a trusted proxy forwarded for. */
#ifndef COHTTPD_HTTP_CLIENT_H
#define COHTTPD_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "http/cidr.h"
#include "http/parser.h"

/* Whose forwarding headers are believed ([server] trusted_proxies). The
 * configuration owns the array. */
struct http_trusted {
    const struct cidr *v;
    size_t n;
    bool unix_peers; /* peers on a unix socket ("unix") */
};

/* The most hops of X-Forwarded-For or Forwarded looked at, from the right;
 * elements further left are never reached. */
#define HTTP_CLIENT_MAX_HOPS 32

enum http_client_source {
    HTTP_CLIENT_PEER,      /* the peer: not trusted, or it forwarded for nobody */
    HTTP_CLIENT_FORWARDED, /* named by a trusted peer's X-Forwarded-For or Forwarded */
    HTTP_CLIENT_MALFORMED, /* a trusted peer's header did not parse: the peer */
};

/*
 * Finds the real client of a request from peer. When peer is trusted and
 * the request has X-Forwarded-For (every such line, in order, as one
 * list), or else RFC 7239 Forwarded (its "for=" parameters), the list is
 * walked from the right: the first address that is not itself trusted is
 * the client; when every one is trusted, the leftmost. An element that is
 * not an IPv4 or IPv6 address (with an optional port; IPv6 in brackets
 * when it has one), a Forwarded element without "for=", "unknown" or an
 * obfuscated name make the header malformed. The client goes to *out
 * (port 0 when the header gave none) with its length in *out_len; *header
 * (may be NULL) names the header used or refused, else NULL. Pure: no
 * log, no allocation, never yields.
 */
enum http_client_source http_client_resolve(const struct http_request *req,
                                            const struct sockaddr *peer, socklen_t peer_len,
                                            const struct http_trusted *trusted,
                                            struct sockaddr_storage *out, socklen_t *out_len,
                                            const char **header);

struct http_exchange;

/*
 * Sets x->client, x->client_len and x->forwarded_trusted for the request
 * in x from x->peer and x->site->trusted (the engine calls it once the
 * head is parsed). An address a trusted proxy forwarded is written to ss,
 * which the caller keeps as long as x (x->client then points to it). A
 * malformed header from a trusted peer leaves the peer as the client and
 * logs a warning (the error log holds back repeats). Never yields.
 */
void http_client_set(struct http_exchange *x, struct sockaddr_storage *ss);

/* Writes the address of sa without its port into out: "192.0.2.1",
 * "2001:db8::1", "unix:" for a unix socket, "-" for none. Never yields. */
void http_addr_text(const struct sockaddr *sa, char *out, size_t cap);

/* True when peer is one of trusted (a unix socket peer when unix_peers). */
bool http_client_trusted(const struct http_trusted *trusted, const struct sockaddr *peer);

#endif
