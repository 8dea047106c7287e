/* server.h - a worker's HTTP/1.1 engine: its connections, their coroutines, its counters. */
#ifndef COHTTPD_HTTP_SERVER_H
#define COHTTPD_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/loop.h"
#include "http/limits.h"

struct http_exchange;
struct mime_table;
struct access_log;

enum http_log_format { HTTP_LOG_COMBINED, HTTP_LOG_JSON };

/*
 * What one configuration generation gives the HTTP engine. Shared read-only
 * by every worker; its owner (the daemon) keeps it alive while any request
 * that started under it runs (see http_site_hold / http_site_release).
 */
struct http_site {
    struct http_limits limits;
    const struct mime_table *mime;
    const char *server_header; /* NULL or "": no Server header */
    /* Called for every valid request, inside its connection coroutine: it
     * must answer it through the http_resp_* calls of exchange.h. */
    void (*dispatch)(struct http_exchange *x, void *app);
    void *app; /* the daemon's per-generation context for dispatch */
    /* Reference count, managed by the daemon's hold/release callbacks. */
    void (*hold)(const struct http_site *site);
    void (*release)(const struct http_site *site);
};

/* Counters a worker keeps; read from other threads (relaxed atomics). */
struct http_stats {
    _Atomic uint64_t connections_total;
    _Atomic uint64_t connections_open;
    _Atomic uint64_t requests;
    _Atomic uint64_t status_class[6]; /* [1] 1xx ... [5] 5xx, [0] other */
    _Atomic uint64_t bytes_out;
};

struct http_server;

/*
 * Creates the engine of one worker on loop, serving with site (held until
 * replaced). access_log may be NULL (no access log). Returns NULL (errno).
 */
struct http_server *http_server_new(struct loop *loop, const struct http_site *site,
                                    struct access_log *access_log);

/* Closes the idle connections and frees the engine. Busy connections close
 * when their coroutines end or are cancelled (loop_free): stop the worker
 * with http_server_drain, then loop_free, then this. */
void http_server_free(struct http_server *srv);

/* New requests use site from now on; requests already running finish under
 * the one they started with. Loop thread only. */
void http_server_set_site(struct http_server *srv, const struct http_site *site);

/*
 * Takes the accepted, non-blocking socket fd (ownership passes, even on
 * failure) and serves it. Returns 0 or -errno (fd closed). Loop thread only.
 */
int http_server_accept(struct http_server *srv, int fd, const struct sockaddr *peer,
                       socklen_t peer_len, const struct sockaddr *local, socklen_t local_len);

/* Graceful stop: idle keep-alive connections are closed now, busy ones
 * close after their current response. Loop thread only. */
void http_server_drain(struct http_server *srv);

/* Connections open now. */
size_t http_server_connections(const struct http_server *srv);

/* Called (if set) each time a connection closes: the worker resumes a
 * paused accept when it falls under max_connections. */
void http_server_on_close(struct http_server *srv, void (*fn)(void *arg), void *arg);

const struct http_stats *http_server_stats(const struct http_server *srv);

/* Frees the working memory kept for the next busy connections (a busy
 * connection's buffers, pooled when it goes idle or closes); the pool fills
 * again as connections need it. For a worker that has gone quiet, never on
 * a request's path. Returns the bytes freed. Loop thread only. */
size_t http_server_release_memory(struct http_server *srv);

#endif
