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
struct http_view;
struct http_trusted;
struct http_head_lines;

enum http_log_format { HTTP_LOG_COMBINED, HTTP_LOG_JSON };

/*
 * What one configuration generation gives the HTTP engine. Read-only, but
 * for what head_lines points to; a site without head_lines may be shared by
 * every worker. Its owner (the daemon) keeps it alive while any request
 * that started under it runs (see http_site_hold / http_site_release).
 */
struct http_site {
    struct http_limits limits;
    const struct mime_table *mime;
    const char *server_header; /* NULL or "": no Server header */
    /* Whose X-Forwarded-For / Forwarded name the real client; NULL: none. */
    const struct http_trusted *trusted;
    /* Called for every valid request, inside its connection coroutine: it
     * must answer it through the http_resp_* calls of exchange.h. */
    void (*dispatch)(struct http_exchange *x, void *app);
    void *app; /* the daemon's per-generation context for dispatch */
    /* Serves the error page for status to x (see http_resp_error_page),
     * or returns -ENOENT without sending anything. NULL: no error pages. */
    int (*error_page)(struct http_exchange *x, int status, const char *name, const char *value);
    /* Reference count, managed by the daemon's hold/release callbacks. */
    void (*hold)(const struct http_site *site);
    void (*release)(const struct http_site *site);
    /* Fills v with every worker's counters and the generation's routes
     * (allocated: http_view_free). Returns 0 or -ENOMEM. Never yields;
     * callable from any worker thread. NULL: the daemon offers none. */
    int (*observe)(const struct http_site *site, struct http_view *v);
    /* The Date and Server lines for server_header (http/date.h), kept by
     * the one worker that serves with this site and refreshed by its
     * engine once per second; NULL: the engine makes them per response. */
    struct http_head_lines *head_lines;
};

/* Buckets of the request duration histogram: upper bounds in
 * microseconds (http_duration_bounds_us), the last one unbounded. */
#define HTTP_DURATION_BUCKETS 16
extern const uint64_t http_duration_bounds_us[HTTP_DURATION_BUCKETS - 1];

/* Counters a worker keeps; read from other threads (relaxed atomics). Only
 * the worker's thread writes them. */
struct http_stats {
    _Atomic uint64_t connections_total;
    _Atomic uint64_t connections_open;
    _Atomic uint64_t requests;
    _Atomic uint64_t status_class[6]; /* [1] 1xx ... [5] 5xx, [0] other */
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t bytes_in;      /* request heads and raw bodies */
    _Atomic uint64_t conns_reading; /* gauge: waiting for or reading a request head */
    _Atomic uint64_t conns_writing; /* gauge: a request being served */
    _Atomic uint64_t duration[HTTP_DURATION_BUCKETS]; /* requests per duration bucket */
    _Atomic uint64_t duration_sum_us;
    _Atomic uint64_t file_cache_hits; /* open-file cache lookups (http_count_file_cache) */
    _Atomic uint64_t file_cache_misses;
    _Atomic uint64_t scripts_running;        /* gauge: CGI scripts (http_count_script) */
    _Atomic uint64_t scripts_killed_timeout; /* killed at timeout or idle_timeout */
    _Atomic uint64_t scripts_killed_gone;    /* killed because their client left */
};

/* Adds n to a counter only its worker's thread writes: a relaxed load and
 * store, no locked instruction; readers on other threads see whole values.
 * (n may be (uint64_t)-1 for a gauge going down.) */
static inline void http_stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* ---- the status page's view of the whole daemon ---- */

/* One worker's counters as read at one moment (plain copies). */
struct http_view_worker {
    struct {
        uint64_t connections_total, connections_open, requests, status_class[6], bytes_out,
            bytes_in, conns_reading, conns_writing, duration[HTTP_DURATION_BUCKETS],
            duration_sum_us, file_cache_hits, file_cache_misses, scripts_running,
            scripts_killed_timeout, scripts_killed_gone;
    } http;
    uint64_t accept_refused; /* accepts held back at max_connections (the client waits) */
    uint64_t accept_pauses;  /* times accepting paused (max_connections or no descriptors) */
    uint64_t loop_iterations;
    uint64_t loop_busy_ns; /* time the loop spent outside epoll_wait */
    uint64_t loop_idle_ns; /* ... and inside it */
};

/* One route: requests it served in the generation being read. */
struct http_view_route {
    const char *name; /* the section as written, without brackets */
    size_t name_len;
    uint64_t requests;
    const void *kind;  /* the route's kind and state, opaque to the engine: */
    const void *state; /* the status page asks the kind about them */
};

/* What http_site.observe fills; free with http_view_free. */
struct http_view {
    struct http_view_worker *workers;
    size_t n_workers;
    struct http_view_route *routes;
    size_t n_routes;
};

/* Copies one engine's counters into out. Any thread. */
void http_stats_read(const struct http_stats *st, struct http_view_worker *out);

/* Frees what an observe call allocated (the struct itself is the caller's). */
void http_view_free(struct http_view *v);

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
