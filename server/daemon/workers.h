/* workers.h - the worker threads: one event loop each, with its listeners and connections. */
#ifndef COHTTPD_DAEMON_WORKERS_H
#define COHTTPD_DAEMON_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/app.h"

struct workers;

/* A listening socket handed to the workers. per_worker: fds[i] belongs to
 * worker i (SO_REUSEPORT); otherwise fds[0] is shared by all. */
struct workers_listener {
    int *fds;
    size_t n_fds;
    bool per_worker;
};

/*
 * Starts n worker threads serving app (each takes a reference) on the
 * listeners, and returns once every worker listens. access_fd is the access
 * log's fd (-1: off), not owned. Signals are blocked in the workers. Returns
 * 0 or -errno. The listener fds stay owned by the caller.
 */
int workers_start(struct workers **out, unsigned n, struct app *app,
                  const struct workers_listener *listeners, size_t n_listeners, int access_fd);

/* Serves new requests with app from now on (each worker takes a reference;
 * running requests finish under the one they began with). */
void workers_set_app(struct workers *ws, struct app *app);

/*
 * Graceful stop: workers stop accepting, close idle connections and let
 * running requests finish until timeout_ms has passed; then they exit and
 * are joined, and everything is freed.
 */
void workers_stop(struct workers *ws, uint64_t timeout_ms);

/* Total connections open and requests served, across workers. */
uint64_t workers_connections(const struct workers *ws);
uint64_t workers_requests(const struct workers *ws);

/* True when every worker's loop turned within max_age_ms (the watchdog). */
bool workers_alive(const struct workers *ws, uint64_t max_age_ms);

#endif
