/* logcheck.h - -t's check that the log files can be opened by the user the daemon serves as. */
#ifndef COHTTPD_DAEMON_LOGCHECK_H
#define COHTTPD_DAEMON_LOGCHECK_H

#include "daemon/config.h"

/*
 * Checks that each log file of cfg (access_log and error_log, when they are
 * paths) can be opened for appending by the user the daemon will serve as:
 * cfg's user and group when they are set and this process can take them
 * (it runs as root), else this process's own user. Opens and creates
 * nothing: a file that exists must be writable by that user, else its
 * directory must let that user create it. Adds "FILE: cannot open the
 * access log PATH as user NAME: why" to errs for each one that cannot be.
 * Returns 0 when every one can, else -1. May fork: call it before any
 * thread starts.
 */
int logcheck_run(const struct config *cfg, struct config_errors *errs);

#endif
