/* app.h - one configuration generation at run time: its routes, handlers and site. */
#ifndef COHTTPD_DAEMON_APP_H
#define COHTTPD_DAEMON_APP_H

#include "daemon/config.h"
#include "http/server.h"

struct app;

/*
 * Builds the run-time state of a loaded configuration: the MIME table, the
 * static roots opened as directory fds, the router over them, and the
 * http_site the workers serve with. Takes ownership of *cfg (zeroed on
 * return, success or not). Returns NULL and logs the cause on failure.
 * The app starts with one reference, the caller's.
 */
struct app *app_new(struct config *cfg);

/* References: every worker and every running request holds one; the last
 * release frees the app and its configuration. Thread-safe. */
void app_hold(struct app *app);
void app_release(struct app *app);

const struct http_site *app_site(const struct app *app);
const struct config *app_config(const struct app *app);

#endif
