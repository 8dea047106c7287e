/* kinds.h - the handler table: every route kind, its keys, its lifetimes and its entry points. */
#ifndef COHTTPD_HANDLERS_KINDS_H
#define COHTTPD_HANDLERS_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "handlers/conf_keys.h"
#include "http/exchange.h"

/*
 * A route kind ([static /], [redirect example.org/], ...) is one
 * struct handler_kind. Adding a kind is one new file under server/handlers/
 * defining its struct, one line in kinds.c, and its keys in the man page
 * cohttpd.ini(5). The daemon drives every kind through these hooks; the
 * router and the HTTP engine know none.
 *
 * Lifetimes. A configuration generation (the file as loaded at startup or
 * at one reload) owns, for each of its routes of the kind, the typed conf
 * (conf_size bytes, filled by the keys) and the route state returned by
 * open. Each worker thread that serves the generation owns one worker
 * state per kind (worker_init, on that worker's thread), for all of the
 * generation's routes of the kind. When a reload replaces the generation,
 * a worker tears its worker state down as soon as no request of the old
 * generation runs on it any more (requests still running keep theirs);
 * the route states are closed when no worker uses the generation.
 * So: conf and route state are read-only and shared by every worker;
 * worker state is touched by its own worker's thread only.
 */

/* The request --route describes, as a handler sees it. */
struct handler_target {
    const char *method; /* as written, e.g. "GET" */
    size_t method_len;
    const char *rest; /* the normalised path below the route's prefix (starts with '/') */
    size_t rest_len;
    const char *query; /* after '?' (not decoded), "" when none */
    size_t query_len;
    const char *path; /* the whole normalised path (rest lies at its end) */
    size_t path_len;
    const char *raw_path; /* the path as written, before normalising */
    size_t raw_path_len;
};

/* One upstream of a route as the status page shows it. */
struct handler_upstream {
    const char *address; /* as configured; lives as long as the route state */
    bool up;             /* not taken out by failures or health checks */
    uint64_t failures;   /* since the configuration was loaded */
    uint64_t retries;    /* requests moved from it to another upstream */
    unsigned active;     /* connections busy with a request, every worker */
    unsigned idle;       /* idle keep-alive connections, every worker */
};

#define HANDLER_MAX_UPSTREAMS 64 /* the most upstreams a route reports */

struct handler_kind {
    const char *name;                  /* the KIND of [KIND MATCH] */
    const struct section_spec *schema; /* the section's keys (conf_keys.h) */
    size_t conf_size;                  /* bytes of the typed conf the keys fill */
    /* Fills a new conf with the kind's defaults (the keys come after);
     * NULL: the conf starts zeroed. */
    void (*conf_init)(void *conf);

    /*
     * Per generation and route, in the main thread at startup or reload:
     * makes the route state handle receives from conf (which outlives it);
     * index is the route's rank among the generation's routes of this kind
     * (0, 1, ...), for a worker state kept per route. Returns 0, or -errno
     * with a message (without the route's location) in err. NULL: the
     * route state is conf itself.
     */
    int (*open)(const void *conf, size_t index, void **state, char *err, size_t err_len);
    /* Frees a route state from open; no request uses it any more. May be
     * NULL when open is. */
    void (*close)(void *state);

    /*
     * Per worker and generation, on the worker's thread, before it serves
     * the generation: n_routes is how many of the generation's routes are
     * of this kind (at least 1). Returns 0 with *worker (which handle finds
     * in x->handler_worker), or -errno. NULL: no worker state.
     */
    int (*worker_init)(void **worker, size_t n_routes);
    /* Frees a worker state, on its worker's thread, once no request of its
     * generation runs there. */
    void (*worker_teardown)(void *worker);

    /*
     * Answers x through the http_resp_* calls of exchange.h, inside the
     * connection's coroutine (it may yield, never block the thread). state
     * is the route state, rest the normalised path below the route's
     * prefix (it starts with '/'), x->handler_worker this worker's state.
     */
    void (*handle)(struct http_exchange *x, void *state, const char *rest, size_t rest_len);

    /*
     * Serves the file at rest (below the route's prefix, as for handle) as
     * an error page: with status, plus the header name: value when name is
     * not NULL, for a HEAD without its body. Returns 0 once sent (or
     * -errno when sending failed), -ENOENT when there is no such page
     * (nothing sent). May yield. NULL: the kind serves no error pages
     * (only [static] routes do).
     */
    int (*serve_page)(struct http_exchange *x, void *state, const char *rest, size_t rest_len,
                      int status, const char *name, const char *value);

    /*
     * --route: writes what handle would do with t under conf, one
     * "name: value" line each (for static the file, for redirect the
     * status and Location), without touching the file system beyond what
     * the decision needs. Main thread.
     */
    void (*describe)(FILE *out, const void *conf, const struct handler_target *t);
    /*
     * The status page: fills out[0..cap) with the upstreams of a route
     * state from open and returns how many. Any thread, never yields.
     * NULL: the kind has no upstreams.
     */
    size_t (*upstreams)(const void *state, struct handler_upstream *out, size_t cap);

    /* True for a kind that forwards the request target as received (the
     * proxy): it is handed paths with an encoded slash ("%2F", kept so in
     * the routed path). Every other kind maps paths to files or names, and
     * the dispatch answers such a request 400 before it runs. */
    bool keeps_encoded_slash;
};

/* The kind named name[0..len), or NULL. */
const struct handler_kind *handler_kind_find(const char *name, size_t len);

/* Kinds in the table: handler_kind_at(0 .. handler_kind_count() - 1). The
 * order is fixed for the process's life (a kind's index names it). A test
 * build of the daemon (tests/support/) adds one kind after the shipped ones
 * by defining `const struct handler_kind handler_test_kind`. */
size_t handler_kind_count(void);
const struct handler_kind *handler_kind_at(size_t i);

#endif
