/* run.h - running the daemon until it is told to stop. */
#ifndef COHTTPD_DAEMON_RUN_H
#define COHTTPD_DAEMON_RUN_H

#include "daemon/config.h"

/*
 * Serves cfg (ownership passes; *cfg is consumed): binds the listen
 * addresses, drops privileges, starts the workers and waits for SIGTERM or
 * SIGINT (graceful stop) and SIGHUP (reload of config_path; NULL when there
 * is no file, as with -r). Returns the exit code: 0 after a clean stop, 1
 * when startup failed (the cause is logged).
 */
int daemon_run(struct config *cfg, const char *config_path);

#endif
