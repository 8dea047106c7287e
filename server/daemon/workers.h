/* workers.h - the worker threads: one event loop each, with its listeners and connections. */
#ifndef COHTTPD_DAEMON_WORKERS_H
#define COHTTPD_DAEMON_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/app.h"

struct workers;

/* A listening socket handed to the workers. per_worker: fds[i] belongs to
 * worker i (SO_REUSEPORT); otherwise fds[0] is shared by all of them, each
 * loop watching it with EPOLLEXCLUSIVE (socket activation, unix sockets). */
struct workers_listener {
    int *fds;
    size_t n_fds;
    bool per_worker;
};

/*
 * Starts n worker threads serving app (each takes a reference), and returns
 * once every worker's loop is ready; they listen on nothing until
 * workers_listen. access_fd is the access log's fd (-1: off, for the
 * daemon's whole life), not owned; the format comes from app's config.
 * Signals are blocked in the workers. Returns 0 or -errno.
 */
int workers_start(struct workers **out, unsigned n, struct app *app, int access_fd);

/*
 * Every worker starts watching the listener and accepting on it; returns 0
 * once all of them do, or -errno (then none does). The fds stay owned by
 * the caller. Main thread only.
 */
int workers_listen(struct workers *ws, const struct workers_listener *wl);

/* Every worker stops watching the listener; when this returns no worker
 * uses its fds, and the caller may close them. Main thread only. */
void workers_unlisten(struct workers *ws, const struct workers_listener *wl);

/*
 * Serves new requests with app from now on, on every worker or on none:
 * each worker first builds its use of app (app_worker_new, its kinds'
 * worker states); only when all of them could do every worker switches
 * (each takes a reference; running requests finish under the generation
 * they began with). Returns 0 once every worker switched, or the first
 * -errno a worker met (logged), in which case every worker still serves
 * the previous generation and holds no reference to app. Main thread only.
 */
int workers_set_app(struct workers *ws, struct app *app);

/* Points every worker's access log at fd (after a reopen: the old fd may be
 * closed when this returns). No effect when the access log is off. Main
 * thread only. */
void workers_set_access_fd(struct workers *ws, int fd);

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
