/* cgi_proc.h - a CGI script's process: spawned without fork, its pipes, its pidfd, its end. */
#ifndef COHTTPD_HANDLERS_CGI_PROC_H
#define COHTTPD_HANDLERS_CGI_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/loop.h"

/*
 * One running script. Our ends of its pipes are non-blocking and
 * close-on-exec (no other child inherits them); the pidfd says when it
 * exits. The script leads its own process group, so that a timeout or a
 * departed client ends it with everything it started.
 */
struct cgi_proc {
    pid_t pid;    /* also the process group; 0 once reaped */
    int pidfd;    /* readable once the script exited; -1 when closed */
    int in_fd;    /* the script's stdin (we write), -1 when none or closed */
    int out_fd;   /* the script's stdout (we read), -1 when closed */
    int err_fd;   /* the script's stderr (we read), -1 when closed */
    int status;   /* waitpid's status once reaped */
    bool guarded; /* listed with the guard (cgi_guard.h) */
};

/*
 * Starts path (argv[0] = path, no other argument) with envp in the
 * directory dir: posix_spawn (a vfork-like clone whose cost does not grow
 * with the daemon's memory), a new process group, every signal unblocked
 * and at its default action, only fds 0, 1 and 2 open: stdin is a pipe
 * for stdin_fd = CGI_STDIN_PIPE, /dev/null for CGI_STDIN_NULL, else the
 * descriptor stdin_fd (a file holding the body, read from its offset; the
 * caller keeps it); stdout and stderr are pipes. Fills p. Returns 0, or
 * -errno (nothing is left open or running). Never yields.
 */
int cgi_proc_spawn(struct cgi_proc *p, const char *path, const char *dir, char *const envp[],
                   int stdin_fd);

#define CGI_STDIN_NULL (-1)
#define CGI_STDIN_PIPE (-2)

/* Sends sig to the script's whole process group (while it is not reaped). */
void cgi_proc_signal(struct cgi_proc *p, int sig);

/* Reaps the script if it has exited (WNOHANG). True once reaped. */
bool cgi_proc_try_reap(struct cgi_proc *p);

/*
 * Ends everything: closes the pipes; when the script is not reaped yet,
 * sends SIGKILL to its process group, unlists it from the guard and reaps
 * it if it has exited. If not, and loop is given (the caller runs in a
 * coroutine of loop), a coroutine of its own waits on the pidfd, up to a
 * minute, and reaps it: the worker never blocks in waitpid. With loop NULL
 * (a worker that stops: nothing may be spawned) the leader is left for
 * its parent's parent once cohttpd has exited. Safe to call twice. Never
 * yields.
 */
void cgi_proc_end(struct cgi_proc *p, struct loop *loop);

#endif
