/* proxy_internal.h - what the proxy's files share: its conf, its worker pool, its messages. */
#ifndef COHTTPD_HANDLERS_PROXY_INTERNAL_H
#define COHTTPD_HANDLERS_PROXY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <llhttp.h>

#include "core/loop.h"
#include "handlers/conf_keys.h"
#include "handlers/kinds.h"
#include "http/exchange.h"

#define PROXY_MAX_UPSTREAMS 32    /* upstream addresses per route */
#define PROXY_ADDR_TEXT     128   /* "HOST:PORT", "[V6]:PORT" or "unix:/path" */
#define PROXY_BUF           65536 /* upstream-to-client bytes once PROXY_SMALL is outgrown */
#define PROXY_HEAD_MAX      16384 /* the longest upstream response head accepted */
#define PROXY_SMALL         4096  /* upstream-to-client bytes kept in the request itself */
#define PROXY_MAX_FIELDS    128   /* header fields in an upstream response head */

/* ---- configuration (proxy_conf.c) ---- */

enum proxy_balance {
    PROXY_ROUND_ROBIN, /* smooth weighted round robin */
    PROXY_LEAST_CONN,  /* fewest active connections per weight, round robin among ties */
    PROXY_RANDOM_TWO,  /* two weighted random picks, the less loaded one */
    PROXY_HASH,        /* rendezvous hashing of hash_key, weighted */
};

#define PROXY_HASH_HEADER 64  /* the longest header name hash_key may name */
#define PROXY_HEALTH_URI  256 /* the longest health_uri */

struct proxy_upstream {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char text[PROXY_ADDR_TEXT]; /* as configured, also the Host sent (unix: "localhost") */
    unsigned weight;            /* 1 to 1000 */
};

/* [proxy MATCH]; the configuration owns it, workers only read it. */
struct proxy_conf {
    struct proxy_upstream upstreams[PROXY_MAX_UPSTREAMS];
    size_t n_upstreams;
    enum proxy_balance balance;
    unsigned keepalive;                  /* idle connections kept per worker and upstream (32) */
    uint64_t keepalive_timeout_ms;       /* idle connections closed after this (4 s) */
    uint64_t connect_timeout_ms;         /* 5 s, then the next upstream */
    uint64_t read_timeout_ms;            /* longest upstream silence (60 s): 504 or a cut */
    uint64_t send_timeout_ms;            /* longest wait to write to the upstream (60 s) */
    bool preserve_host;                  /* send the client's Host, not the upstream's */
    bool strip_prefix;                   /* send the path below the route's prefix */
    char hash_header[PROXY_HASH_HEADER]; /* hash_key = header:NAME; "" hashes the client */
    unsigned max_fails;                  /* failures within fail_timeout that take one out (1) */
    uint64_t fail_timeout_ms;            /* the window, and how long it stays out (10 s) */
    unsigned retries;                    /* other upstreams tried after a failed connect (1) */
    uint64_t retry_timeout_ms;           /* all tries end within this (0: no bound) */
    unsigned max_conns;                  /* busy connections per upstream and worker (0: any) */
    uint64_t queue_timeout_ms;           /* longest wait for one under max_conns (5 s) */
    char health_uri[PROXY_HEALTH_URI];   /* active checks GET it; "" for none */
    uint64_t health_interval_ms;         /* between checks of one upstream, and their bound (5 s) */
    unsigned health_passes;              /* passes in a row that bring one back (1) */
    unsigned health_fails;               /* failures in a row that take one out (1) */
    uint64_t tunnel_idle_timeout_ms;     /* an Upgrade tunnel idle this long is closed (300 s) */
    bool compress;                       /* compress responses as they stream (default off) */
};

extern const struct section_spec proxy_schema;

/* Fills conf with the defaults of DESIGN.md §4. */
void proxy_conf_defaults(void *conf);

/* ---- what every worker shares: counters and passive health (proxy_health.c) ---- */

/* One upstream's counters in one generation, shared by every worker
 * (relaxed atomics: a race costs at most one request's worth of accuracy). */
struct proxy_up_shared {
    _Atomic uint64_t down_until;   /* loop_now() ms before which passive health skips it */
    _Atomic uint64_t window_start; /* when the current window of failures began */
    _Atomic unsigned fails;        /* failures in that window */
    _Atomic unsigned active;       /* connections busy with a request, in every worker */
    _Atomic unsigned idle;         /* idle in the pools of every worker */
    _Atomic uint64_t failures;     /* failures since the generation began */
    _Atomic uint64_t retries;      /* requests moved from it to another upstream */
    _Atomic bool checked_down;     /* the active checks took it out */
};

struct proxy_checker;

/* The route state of a [proxy] route (open/close), one per generation. */
struct proxy_shared {
    const struct proxy_conf *conf;
    size_t index; /* the route's rank among the generation's proxy routes */
    struct proxy_up_shared ups[PROXY_MAX_UPSTREAMS];
    struct proxy_checker *checker; /* the active checks' thread, when health_uri is set */
};

/*
 * Records a failure of upstream up at now (loop_now() ms): max_fails of
 * them within fail_timeout take it out until now + fail_timeout (logged
 * once, as a warning). Returns true when this one took it out. Thread-safe,
 * never yields.
 */
bool proxy_health_fail(struct proxy_shared *s, size_t up, const struct proxy_conf *c, uint64_t now);

/* The mask of upstreams that neither passive health nor the active checks
 * keep out at now. */
uint32_t proxy_health_up(const struct proxy_shared *s, const struct proxy_conf *c, uint64_t now);

/* handler_kind.upstreams: each upstream's state and counters for the
 * status page. Any thread. */
size_t proxy_health_view(const void *state, struct handler_upstream *out, size_t cap);

/*
 * Active checks (proxy_check.c): when s->conf->health_uri is set, starts
 * the route's one checker thread (for the whole daemon, whatever the
 * number of workers), which GETs health_uri from every upstream each
 * health_interval and sets checked_down after health_fails failures in a
 * row, clears it after health_passes passes. Returns 0 or -errno. Main
 * thread.
 */
int proxy_check_start(struct proxy_shared *s);

/* Stops and joins s's checker, if any. Main thread. */
void proxy_check_stop(struct proxy_shared *s);

/* ---- balancing (proxy_balance.c) ---- */

/* One worker's balancing state for one route. */
struct proxy_balancer {
    int current_weight[PROXY_MAX_UPSTREAMS]; /* smooth weighted round robin */
    uint64_t rng;                            /* random_two; any seed but 0 */
};

/*
 * Picks one upstream of c among eligible (a non-empty mask of indexes)
 * under c->balance: active counts come from s, key is what hash hashes
 * (proxy_balance_key). Never yields.
 */
size_t proxy_balance_pick(struct proxy_balancer *b, const struct proxy_conf *c,
                          const struct proxy_shared *s, uint32_t eligible, uint64_t key);

/* The hash of what balance = hash keys on for x: the header hash_key
 * names, or the client's address (also when that header is absent). */
uint64_t proxy_balance_key(const struct proxy_conf *c, const struct http_exchange *x);

/* ---- per-worker pool and limits (proxy_pool.c) ---- */

struct proxy_worker;

/* One upstream connection, owned by the request using it or by the pool. */
struct proxy_conn {
    struct loop_watch w;
    struct proxy_conn *prev, *next; /* in the pool's idle list */
    struct proxy_worker *pw;
    size_t route, up;
    uint64_t idle_since;
    unsigned requests;           /* requests sent on it so far */
    struct proxy_shared *shared; /* while busy: whose active count it adds to */
    bool busy;                   /* owned by a request (counted), not idle in the pool */
};

/* Per worker: worker_init/worker_teardown of the kind. */
int proxy_worker_init(void **worker, size_t n_routes);
void proxy_worker_teardown(void *worker);

/* This worker's balancing state for route. */
struct proxy_balancer *proxy_worker_balancer(struct proxy_worker *pw, size_t route);

/* The mask of route's upstreams that have max_conns busy connections in
 * this worker (0 when max_conns is 0). Never yields. */
uint32_t proxy_pool_full(struct proxy_worker *pw, size_t route, const struct proxy_conf *c);

/* Waits until a busy connection of route is released in this worker,
 * watching x's client meanwhile: returns 0, -ETIMEDOUT at deadline
 * (loop_now() ms), -ECONNRESET when the client left (it is out of the
 * queue at once), or another -errno of http_poll(). May yield. */
int proxy_pool_queue_wait(struct proxy_worker *pw, struct http_exchange *x, size_t route,
                          uint64_t deadline);

/*
 * An idle pooled connection to upstream up of s's route, or NULL. Those
 * the upstream closed are dropped as the loop sees them; with peek, the
 * one returned is also checked still open now (nothing to read, no end of
 * file: one recv more), which a request that cannot be sent again (the
 * keep-alive race rule) wants. The caller owns it, busy (counted in s and
 * against max_conns until put back or closed). Never yields.
 */
struct proxy_conn *proxy_pool_get(struct proxy_worker *pw, struct loop *loop,
                                  struct proxy_shared *s, size_t up, bool peek);

/*
 * A new connection to upstream up of s's route, connected by deadline
 * (loop_now() ms): returns it (the caller owns it, busy) or NULL with
 * -errno in *err (-ETIMEDOUT at the deadline). May yield.
 */
struct proxy_conn *proxy_connect(struct proxy_worker *pw, struct loop *loop, struct proxy_shared *s,
                                 size_t up, uint64_t deadline, int *err);

/* Gives a connection whose last response was read to its end back to the
 * pool (or closes it when the pool is full or keepalive is 0). Never
 * yields. */
void proxy_pool_put(struct proxy_conn *pc, const struct proxy_conf *c);

/* Closes a connection the caller owns (a busy one wakes the requests
 * queued for max_conns). Never yields. */
void proxy_conn_close(struct proxy_conn *pc);

/* ---- messages (proxy_msg.c) ---- */

/* Where the request goes: the target sent upstream (NUL-terminated in a
 * buffer of cap bytes), from the target as received, the normalised path
 * and the part below the route's prefix. Returns its length, or -1 when it
 * does not fit. */
int proxy_target(const struct proxy_conf *c, const char *raw_path, size_t raw_path_len,
                 const char *query, size_t query_len, const char *path, size_t path_len,
                 const char *rest, size_t rest_len, char *out, size_t cap);

/*
 * Writes the request head sent to upstream u for x into out[0..cap): the
 * request line with target, Host, the client's headers but the hop-by-hop
 * ones and those named in Connection, the forwarding headers (replaced),
 * the body's framing. Returns its length, or -1 when it does not fit.
 */
int proxy_request_head(const struct proxy_conf *c, const struct proxy_upstream *u,
                       const struct http_exchange *x, const char *target, size_t target_len,
                       char *out, size_t cap);

/* One parsed upstream response, fed with llhttp in response mode. */
struct proxy_resp {
    llhttp_t llhttp;
    const char *upstream; /* its address, for log lines */
    bool head_only;       /* the request was HEAD: no body whatever it says */
    bool upgrade_asked;   /* the request went up with Upgrade: a 101 may answer it */
    /* the head being parsed: spans into the caller's buffer */
    struct http_span status_text;
    unsigned n_fields;
    int last_cb; /* 1: a name span was last, 2: a value span */
    bool folded; /* a value went on over a line break (obs-fold) */
    bool bad;    /* a check of our own failed */
    /* results */
    int status;       /* the final status, once its head is complete */
    bool head_ready;  /* the final head is complete: see proxy_resp_head_text */
    int interim;      /* an interim (1xx) head, not 101, ended the last feed: its status */
    bool upgrade;     /* a 101 to a request that asked for an Upgrade */
    const char *body; /* the body bytes found by the last proxy_resp_feed */
    size_t body_len;
    bool done;              /* the response ended */
    bool keep_alive;        /* the upstream allows another request on the connection */
    int64_t content_length; /* the head's Content-Length, or -1 */
    bool conn_names;        /* a Connection header names one beyond the hop-by-hop ones */
    /* last, left as they are by proxy_resp_init: fields[0..n_fields) and
     * what each one's name is (a kind of proxy_msg.c) */
    struct http_header fields[PROXY_MAX_FIELDS];
    uint8_t kinds[PROXY_MAX_FIELDS];
};

/* Prepares r for one response. */
void proxy_resp_init(struct proxy_resp *r, const char *upstream, bool head_only);

/*
 * Feeds in[0..len) (bytes that follow those fed before; the caller keeps
 * the buffer in place while a head is incomplete). Stops after an interim
 * head (interim: its fields are r's until the next feed), after the final
 * head (head_ready), after a body span (body, body_len) or at the end of
 * the response (done): returns the bytes consumed (call again with the
 * rest once that is dealt with), or -1 when the response is malformed
 * (logged, naming the upstream). Never yields.
 */
ssize_t proxy_resp_feed(struct proxy_resp *r, const char *in, size_t len);

/* The upstream closed its side: ends a close-delimited body (done), or
 * returns -1 when the response was not complete. */
int proxy_resp_eof(struct proxy_resp *r);

/* The value of the response header name (case-insensitive) in the head
 * parsed last, or NULL (len 0). Never yields. */
const char *proxy_resp_header(const struct proxy_resp *r, const char *name, size_t *len);

/* Writes the header lines of the head parsed last as sent to the client
 * (its headers but the hop-by-hop ones, "name: value\r\n" each) into
 * out[0..cap). Returns their length or -1. */
int proxy_resp_header_lines(const struct proxy_resp *r, char *out, size_t cap);

/*
 * Starts x's response with the final head parsed last: the upstream's
 * status and reason, its headers but the hop-by-hop ones and those the
 * engine writes itself (Content-Length, Date, Server), the body framed by
 * its Content-Length (http_resp_raw_begin/_end). Returns 0 or -errno. May
 * yield.
 */
int proxy_resp_send_head(const struct proxy_resp *r, struct http_exchange *x);

/* The len bytes at from that r's spans point into moved to to. */
void proxy_resp_rebase(struct proxy_resp *r, const char *from, size_t len, const char *to);

/* Writes the final head as sent to the client (HTTP/1.1, the upstream's
 * status and reason, its headers but the hop-by-hop ones) into
 * out[0..cap). Returns its length or -1. */
int proxy_resp_head_text(const struct proxy_resp *r, char *out, size_t cap);

/* ---- tunnels after a 101 (proxy_tunnel.c) ---- */

/* What a tunnel starts from, lent by the request for its duration: lines
 * are the upstream's 101 header lines as proxy_resp_header_lines() wrote
 * them; from_up
 * takes the upstream's bytes, and its first early_len bytes at early
 * (inside from_up) are what the upstream sent behind its 101; from_client
 * takes the client's. */
struct proxy_tunnel_bufs {
    const char *lines;
    size_t lines_len;
    char *from_up;
    size_t from_up_cap;
    const char *early;
    size_t early_len;
    char *from_client;
    size_t from_client_cap;
};

/*
 * Answers the client the upstream's 101 (b->lines, with r's Upgrade and
 * Connection: upgrade), takes the
 * client's connection over and relays bytes both ways between the client
 * and pc (which the caller keeps owning and closes afterwards) until both
 * sides ended, either failed, nothing moved for tunnel_idle_timeout, or
 * the worker stops. Returns 0 once the tunnel ran, or -errno when the 101
 * could not be sent. May yield.
 */
int proxy_tunnel(struct http_exchange *x, const struct proxy_conf *c, struct proxy_conn *pc,
                 const struct proxy_resp *r, const struct proxy_tunnel_bufs *b);

#endif
