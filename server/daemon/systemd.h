/* systemd.h - the daemon's only door to libsystemd: notifications, socket activation, journal. */
#ifndef COHTTPD_DAEMON_SYSTEMD_H
#define COHTTPD_DAEMON_SYSTEMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

/* The most sockets taken from socket activation. */
#define SYSTEMD_MAX_SOCKETS 64

/* An inherited listening socket (socket activation). */
struct systemd_socket {
    int fd;        /* non-blocking, close-on-exec, listening */
    char name[64]; /* FileDescriptorName= (systemd's default is the unit's name), or "" */
};

/*
 * Takes the sockets systemd passed (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES;
 * the variables are removed from the environment so no child sees them).
 * Each listening stream socket is made non-blocking and close-on-exec and
 * stored in out (at most cap); any other descriptor passed is closed with a
 * warning. Returns the number stored (0 without socket activation) or
 * -errno. The caller owns the fds.
 */
int systemd_listen_fds(struct systemd_socket *out, size_t cap);

/* True when NOTIFY_SOCKET names a socket to notify (run by systemd with
 * Type=notify, or by a test). */
bool systemd_notify_enabled(void);

/* READY=1 with STATUS=status: serving (after startup or a reload). */
void systemd_notify_ready(const char *status);

/* RELOADING=1 with MONOTONIC_USEC=now: a reload begins. */
void systemd_notify_reloading(void);

/* STOPPING=1 with STATUS=status: a graceful stop begins. */
void systemd_notify_stopping(const char *status);

/* STATUS=status: the one-line summary systemctl status shows. */
void systemd_notify_status(const char *status);

/* STATUS=status and ERRNO=err: startup failed (before exiting 1). */
void systemd_notify_failed(const char *status, int err);

/* WATCHDOG=1: every worker is alive. */
void systemd_notify_watchdog(void);

/* The watchdog interval in microseconds systemd expects WATCHDOG=1 within
 * (WATCHDOG_USEC, for this process per WATCHDOG_PID), 0 when off. */
uint64_t systemd_watchdog_usec(void);

/*
 * Whether the journal takes entries: its socket (/run/systemd/journal/socket)
 * exists and accepts a datagram connection from this process. libsystemd
 * drops entries without a word when it does not (sd_journal_send returns 0),
 * so the daemon asks before it logs there. Returns 0 or -errno (-ENOENT: no
 * journald, -ECONNREFUSED: its socket is dead, -EACCES: not allowed).
 */
int systemd_journal_check(void);

/*
 * A log sink (log_set_sink) for error_log = journal: one journal entry per
 * message with MESSAGE, PRIORITY and SYSLOG_IDENTIFIER=cohttpd. One
 * sendmsg(2) per message. Thread-safe. Returns 0 or -errno (no journal).
 */
int systemd_journal_log(enum log_level level, const char *msg, size_t len);

/*
 * Sends one access log line (combined or JSON, as the access log writes
 * them; no newline) as a journal entry: MESSAGE is the line, PRIORITY info,
 * SYSLOG_IDENTIFIER=cohttpd, and the fields REMOTE_ADDR, REQUEST, STATUS,
 * BYTES, HTTP_REFERER and HTTP_USER_AGENT taken from it. One sendmsg(2) per
 * line. Returns 0 or -errno.
 */
int systemd_journal_access(const char *line, size_t len);

#endif
