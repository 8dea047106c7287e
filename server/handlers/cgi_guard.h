/* cgi_guard.h - a small process that kills the scripts' process groups when cohttpd dies. */
#ifndef COHTTPD_HANDLERS_CGI_GUARD_H
#define COHTTPD_HANDLERS_CGI_GUARD_H

#include <sys/types.h>

/* argv[0] that makes cohttpd's main() run cgi_guard_main() instead. */
#define CGI_GUARD_ARGV0 "cohttpd-cgi-guard"

/*
 * Scripts lead their own process groups, so nothing ties them to cohttpd:
 * killed by SIGKILL, a crash or the OOM killer, cohttpd would leave them
 * running under PID 1. The guard is cohttpd's own binary started again
 * (/proc/self/exe, argv[0] CGI_GUARD_ARGV0). It shares with cohttpd a
 * table (a memfd both map, fd 3 of the guard) where cohttpd lists each
 * script's process group while it runs, and it blocks reading a pipe
 * whose only write end cohttpd holds (close-on-exec: no script inherits
 * it) and never writes. When that read ends -- cohttpd is gone, however
 * it ended -- the guard sends SIGKILL to every group still listed and
 * exits. A script costs cohttpd a table entry and one waitpid(WNOHANG)
 * that checks on the guard; the guard costs nothing until then.
 *
 * One guard per process, started by the first script (after the privilege
 * drop, so it runs as the scripts' user), and again, on the same table,
 * when it is found gone. Thread-safe; never yields.
 *
 * A script is listed just after posix_spawn() returns its pid: for that
 * moment (no system call of cohttpd's lies between), a SIGKILL of cohttpd
 * would leave the new script unlisted.
 */

/* Makes sure a guard runs, so that a script spawned next is listed by
 * cgi_guard_add() at once, with no guard to start in between. Returns 0
 * or -errno (cgi_guard_add() then tries again). */
int cgi_guard_start(void);

/* Lists pgid. Returns 0, or -errno when no guard can be started, or
 * -ENOSPC when 65536 groups are listed (the script then runs unguarded:
 * the caller decides). */
int cgi_guard_add(pid_t pgid);

/* Unlists pgid: call before reaping its leader, so that the guard never
 * kills a group whose id was given out again. */
void cgi_guard_remove(pid_t pgid);

/* The guard's program: maps the table from fd 3, waits for end of file
 * on fd 0, then kills what is listed. Returns the exit status. */
int cgi_guard_main(void);

#endif
