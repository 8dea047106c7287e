/* app.h - a configuration generation at run time, and each worker's use of it. */
#ifndef COHTTPD_DAEMON_APP_H
#define COHTTPD_DAEMON_APP_H

#include "daemon/config.h"
#include "http/server.h"

struct app;
struct app_worker;

/*
 * Builds the run-time state of a loaded configuration: the MIME table, each
 * route's state opened through its kind (handlers/kinds.h: the static roots
 * as directory fds, ...) and the router over them. Takes ownership of *cfg
 * (zeroed on return, success or not). Returns NULL and logs the cause on
 * failure. The app starts with one reference, the caller's. Main thread.
 */
struct app *app_new(struct config *cfg);

/* References: the daemon holds one while the generation is current, and
 * every app_worker holds one; the last release closes the route states and
 * frees the app and its configuration. Thread-safe. */
void app_hold(struct app *app);
void app_release(struct app *app);

const struct config *app_config(const struct app *app);

/* Tells app how the status page reads every worker's counters: fn(arg, v)
 * fills v->workers (see http_site.observe, which adds the routes). Set
 * before any worker serves app; arg must outlive app's requests. */
void app_set_observer(struct app *app, int (*fn)(void *arg, struct http_view *v), void *arg);

/*
 * One worker's use of app, made on that worker's thread: the http_site its
 * engine serves the generation with, and each kind's worker state
 * (kind->worker_init; the static open-file cache, ...), which the
 * dispatcher puts in x->handler_worker before the handler runs. Holds a
 * reference to app. Returns it with one reference (the caller's), or NULL
 * (out of memory, or a kind's worker_init failed: logged).
 *
 * The site's hold and release count the engine's and each running
 * request's references (the engine takes them: http_server_set_site and
 * the connections). When the last one goes -- the worker switched to a
 * newer generation and no request of this one still runs there -- every
 * worker state is torn down (the cache's descriptors closed) and app
 * released. Everything here runs on the worker's thread only.
 */
struct app_worker *app_worker_new(struct app *app);

/* The site to hand to the worker's engine; valid while aw is held. */
const struct http_site *app_worker_site(const struct app_worker *aw);

/* Drops the caller's reference from app_worker_new. Worker's thread. */
void app_worker_release(struct app_worker *aw);

#endif
