/* cgi_proc.c - spawning a CGI script with posix_spawn, signalling its group, reaping it. */
#include "handlers/cgi_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "core/loop.h"
#include "handlers/cgi_guard.h"

/* After SIGKILL, how long a script's leader may take to be reaped before
 * it is given up on (a process in uninterruptible sleep). */
#define CGI_REAP_WAIT_MS 60000

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* pipes[k][0] is the read end. Ours become non-blocking. */
static int make_pipes(int pipes[3][2], bool with_stdin)
{
    for (int k = 0; k < 3; k++)
        pipes[k][0] = pipes[k][1] = -1;
    for (int k = with_stdin ? 0 : 1; k < 3; k++) {
        if (pipe2(pipes[k], O_CLOEXEC) < 0)
            return -errno;
        /* ours: stdin's write end, stdout's and stderr's read ends */
        if (fcntl(pipes[k][k == 0 ? 1 : 0], F_SETFL, O_NONBLOCK) < 0)
            return -errno;
    }
    return 0;
}

static int spawn_attrs(posix_spawnattr_t *attr)
{
    sigset_t none, all;
    int r;

    sigemptyset(&none);
    sigfillset(&all);
    if ((r = posix_spawnattr_init(attr)) != 0)
        return -r;
    if ((r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF)) != 0 ||
        (r = posix_spawnattr_setpgroup(attr, 0)) != 0 ||
        (r = posix_spawnattr_setsigmask(attr, &none)) != 0 ||
        (r = posix_spawnattr_setsigdefault(attr, &all)) != 0) {
        posix_spawnattr_destroy(attr);
        return -r;
    }
    return 0;
}

static int spawn_actions(posix_spawn_file_actions_t *fa, int pipes[3][2], const char *dir,
                         int stdin_fd)
{
    int r;

    if ((r = posix_spawn_file_actions_init(fa)) != 0)
        return -r;
    if (pipes[0][0] >= 0)
        r = posix_spawn_file_actions_adddup2(fa, pipes[0][0], 0);
    else if (stdin_fd >= 0)
        r = posix_spawn_file_actions_adddup2(fa, stdin_fd, 0);
    else
        r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    if (r == 0)
        r = posix_spawn_file_actions_adddup2(fa, pipes[1][1], 1);
    if (r == 0)
        r = posix_spawn_file_actions_adddup2(fa, pipes[2][1], 2);
    if (r == 0)
        r = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    if (r == 0)
        r = posix_spawn_file_actions_addchdir_np(fa, dir);
    if (r != 0) {
        posix_spawn_file_actions_destroy(fa);
        return -r;
    }
    return 0;
}

static int spawn_child(pid_t *pid, const char *path, const char *dir, char *const envp[],
                       int pipes[3][2], int stdin_fd)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    char *const argv[] = {(char *)path, NULL};
    int r;

    if ((r = spawn_attrs(&attr)) < 0)
        return r;
    if ((r = spawn_actions(&fa, pipes, dir, stdin_fd)) < 0) {
        posix_spawnattr_destroy(&attr);
        return r;
    }
    loop_child_begin();
    r = -posix_spawn(pid, path, &fa, &attr, argv, envp);
    loop_child_end();
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return r;
}

int cgi_proc_spawn(struct cgi_proc *p, const char *path, const char *dir, char *const envp[],
                   int stdin_fd)
{
    int pipes[3][2], guard_r;
    int r = make_pipes(pipes, stdin_fd == CGI_STDIN_PIPE);

    *p = (struct cgi_proc){.pidfd = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};
    if (r == 0) {
        (void)cgi_guard_start(); /* on failure, cgi_guard_add() tries again */
        r = spawn_child(&p->pid, path, dir, envp, pipes, stdin_fd);
    }
    if (r == 0) {
        /* Listed first, so that a cohttpd killed from now on takes it along. */
        guard_r = cgi_guard_add(p->pid);
        p->guarded = guard_r == 0;
        if (guard_r < 0)
            log_warn("cgi %s: runs unguarded (it would outlive a crash of cohttpd): %s", path,
                     strerror(-guard_r));
    }
    close_fd(&pipes[0][0]);
    close_fd(&pipes[1][1]);
    close_fd(&pipes[2][1]);
    p->in_fd = pipes[0][1];
    p->out_fd = pipes[1][0];
    p->err_fd = pipes[2][0];
    if (r < 0) {
        p->pid = 0;
        cgi_proc_end(p, NULL);
        return r;
    }
    p->pidfd = pidfd_open(p->pid, 0);
    if (p->pidfd < 0) {
        r = -errno;
        cgi_proc_end(p, NULL);
        return r;
    }
    return 0;
}

void cgi_proc_signal(struct cgi_proc *p, int sig)
{
    if (p->pid > 0)
        kill(-p->pid, sig);
}

bool cgi_proc_try_reap(struct cgi_proc *p)
{
    if (p->pid > 0 && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
        p->pid = 0;
    return p->pid == 0;
}

/* A killed script whose leader was not reaped at once: a coroutine of
 * its own waits for its pidfd, so that the request goes on. */
struct cgi_reap {
    pid_t pid;
    struct loop_watch w;
};

/* Runs when the reaper ends or is cancelled (the worker stops). */
static void reap_free(void *data)
{
    struct cgi_reap *rp = data;

    if (rp->pid > 0 && waitpid(rp->pid, NULL, WNOHANG) == 0)
        log_error("cgi: process %d did not end after SIGKILL; it is left unreaped", (int)rp->pid);
    loop_watch_del(&rp->w);
    close(rp->w.fd);
    free(rp);
}

static void reap_main(struct coro *co, void *arg)
{
    struct cgi_reap *rp = arg;
    struct loop_watch *ws[1] = {&rp->w};
    uint32_t ev[1] = {LOOP_READ};
    uint64_t until = loop_now(rp->w.loop) + CGI_REAP_WAIT_MS;

    if (coro_defer(co, reap_free, rp) < 0) {
        reap_free(rp);
        return;
    }
    while (waitpid(rp->pid, NULL, WNOHANG) == 0) {
        /* The watch starts out "ready": only the pidfd's own edge counts. */
        rp->w.ready &= ~(uint32_t)(LOOP_READ | LOOP_WRITE | LOOP_HUP);
        if (co_poll(ws, ev, 1, until) < 0)
            return;
    }
    rp->pid = 0;
}

/* Hands the killed, unreaped script p to a reaper on loop. False when
 * none can be started. */
static bool reap_later(struct cgi_proc *p, struct loop *loop)
{
    struct cgi_reap *rp = malloc(sizeof *rp);

    if (!rp)
        return false;
    *rp = (struct cgi_reap){.pid = p->pid, .w = {.fd = p->pidfd}};
    if (loop_watch_add(loop, &rp->w) < 0) {
        free(rp);
        return false;
    }
    p->pidfd = -1; /* the reaper's now */
    p->pid = 0;
    if (!loop_spawn(loop, reap_main, rp))
        reap_free(rp);
    return true;
}

void cgi_proc_end(struct cgi_proc *p, struct loop *loop)
{
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    if (p->pid > 0) {
        /* Unreaped, the leader keeps its group's id from being reused. */
        kill(-p->pid, SIGKILL);
        if (p->guarded)
            cgi_guard_remove(p->pid);
        p->guarded = false;
        if (!cgi_proc_try_reap(p) && !(loop && p->pidfd >= 0 && reap_later(p, loop))) {
            /* The worker is stopping: the process ends on its own and,
             * once cohttpd has exited, its parent reaps it. */
            p->pid = 0;
        }
    }
    close_fd(&p->pidfd);
}
