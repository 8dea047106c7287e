/* conn.h - private to the HTTP engine: connections, their working memory, the server. */
#ifndef COHTTPD_HTTP_CONN_H
#define COHTTPD_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/io.h"
#include "core/loop.h"
#include "core/timer.h"
#include "http/date.h"
#include "http/exchange.h"
#include "http/parser.h"
#include "http/server.h"

/* Output queued per connection before a write (pipelined responses are
 * coalesced up to this much). */
#define CONN_OBUF_SIZE (16 * 1024)

/*
 * What a connection borrows from its worker while a coroutine serves it,
 * and gives back when it goes idle: the parser, the request, the exchange
 * and the buffers, in one block from the worker's pool.
 */
struct conn_mem {
    struct conn_mem *next_free;
    struct http_parser parser;
    struct http_request req;
    struct http_exchange x;
    size_t rstart; /* first byte of the current request in rbuf */
    size_t rlen;   /* bytes in rbuf */
    size_t bpos;   /* next raw body byte to decode */
    size_t rcap;
    size_t olen;       /* bytes queued in obuf */
    size_t block_size; /* bytes of this block, space included */
    uint64_t sent;     /* bytes the socket took from this block's connections */
    uint64_t head_ns;  /* when the first byte of the next request was taken (0: not yet) */
    bool body_done;
    bool continue_sent;
    bool broken;       /* a write failed or timed out: the stream is lost */
    bool body_claimed; /* the handler reads the body: never settled for it */
    bool body_starved; /* the raw body bytes buffered decode to nothing yet */
    bool taken_over;   /* the handler took the socket over after a 101 */
    int body_errno;    /* a body read failed: -errno, repeated after */
    int body_status;   /* ... and the HTTP status that deserves, or 0 */
    /* min_body_rate and min_send_rate, on the socket while serving */
    struct io_rates rates;
    unsigned ncleanups;
    struct conn_cleanup {
        void (*fn)(void *data);
        void *data;
    } cleanups[HTTP_MAX_CLEANUPS];
    char *rbuf;
    char *obuf;
    char *pathbuf;                         /* the normalised path, rcap bytes */
    char upstream[HTTP_UPSTREAM_NAME_MAX]; /* x->upstream's copy */
    struct sockaddr_storage client_ss;     /* x->client when a trusted proxy named it */
    char space[];
};

/* A client connection. Idle, it is this struct alone (no coroutine, no
 * buffers) plus the kernel's socket. */
/* What a connection is doing, for the status page's gauges. */
enum conn_state { CONN_IDLE, CONN_READING, CONN_WRITING };

struct conn {
    struct loop_watch w;
    struct http_server *srv;
    struct conn *prev, *next;     /* the server's list of connections */
    struct coro *co;              /* the coroutine serving it, or NULL when idle */
    struct conn_mem *mem;         /* NULL when idle */
    const struct http_site *site; /* held while co runs */
    struct timer idle_timer;      /* keep-alive timeout while idle (lazily moved: */
    uint64_t idle_deadline;       /* ... when the connection may close; the timer
                                     fires then or earlier) */
    unsigned requests;
    enum conn_state state;
    bool lowat; /* TCP_NOTSENT_LOWAT is set (conn_rates_start) */
    socklen_t peer_len, local_len;
    struct sockaddr_storage peer;
    struct sockaddr_storage local;
};

struct http_server {
    struct loop *loop;
    const struct http_site *site;
    struct access_log *access_log;
    struct conn *conns;
    size_t nconns;
    struct conn_mem *free_mem;
    size_t nfree_mem;
    size_t mem_size; /* bytes of one conn_mem block for the current site */
    bool draining;
    struct http_stats stats;
    struct http_date_cache date;
    void (*on_close)(void *arg);
    void *on_close_arg;
};

/* The coroutine body serving a connection (conn.c). */
void conn_main(struct coro *co, void *arg);

/* Starts a coroutine for an idle connection with input pending. */
void conn_wake(struct conn *c);

/* Closes and frees c (its coroutine, if any, must be the caller or none). */
void conn_close(struct conn *c);

/* Working memory from the server's pool, or NULL (ENOMEM). */
struct conn_mem *conn_mem_get(struct http_server *srv);
void conn_mem_put(struct http_server *srv, struct conn_mem *m);

/* Writes what the socket takes of obuf now, without waiting (not a head
 * still being built); the rest stays queued. 0 or -errno (the stream is
 * then broken). */
int conn_flush_nowait(struct conn *c);

/* Runs the request's cleanups (http_exchange_defer), last first. */
void conn_run_cleanups(struct conn *c);

/* Prepares the body state of conn_mem for a new request. */
void http_body_reset(struct conn_mem *m, const struct http_request *req);

/* The raw head's parts (response_raw.c): a status line with the handler's
 * reason, then, after its header lines, the engine's own headers with a
 * length of total (< 0: chunked or close) or none for a status without a
 * body. The response is then streaming. 0 or -errno. */
int http_resp_open_reason(struct http_exchange *x, int status, const char *reason, size_t len);
int http_resp_stream_raw(struct http_exchange *x, int64_t total);

/* Before a response sent in one call: settles an unclaimed body (read and
 * dropped when small). Returns the status a bad body deserves, else 0.
 * May yield. A request whose body is read (or that has none), or that the
 * handler reads itself, has nothing to settle: that is decided here,
 * without a call; http_body_settle_unread does the rest. */
int http_body_settle_unread(struct http_exchange *x);
static inline int http_body_settle(struct http_exchange *x)
{
    const struct conn_mem *m = x->conn->mem;

    return m->body_claimed || m->body_done ? 0 : http_body_settle_unread(x);
}

/* After the handler: drains what it left of the body (bounded) so the
 * connection can persist; clears x->keep_alive when it cannot. May yield. */
void http_body_drain(struct http_exchange *x);

/* Writes everything queued in obuf (may yield). 0 or -errno. */
int conn_flush(struct conn *c, int flags);

/* Writes the first len queued bytes and keeps the rest (may yield). */
int conn_flush_prefix(struct conn *c, size_t len, int flags);

/* Counts n bytes the socket took (the exchange's sent bytes, the
 * worker's bytes out). */
void conn_sent(struct conn *c, uint64_t n);

/* Moves c to state s, keeping the worker's gauges (CONN_IDLE before it
 * is freed). */
void conn_set_state(struct conn *c, enum conn_state s);

/* The loop's CLOCK_MONOTONIC in nanoseconds, as read once per loop
 * iteration after epoll_wait: no clock read per request (a vDSO read per
 * request cost about 4% of the server's CPU on a paravirtual clock). A
 * request answered in the iteration that read it lasts 0 µs by this clock,
 * as nginx's $request_time shows 0.000. */
uint64_t conn_clock_ns(const struct conn *c);

/* The Date header value for now. */
const char *conn_date(struct conn *c);

/* Deadline for a write starting now; 0 while a request is served, when
 * the socket's account bounds each wait instead (send_timeout between
 * moves of data, and min_send_rate). */
uint64_t conn_send_deadline(const struct conn *c);

#endif
