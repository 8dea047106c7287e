/* cgi_guard.c - the guard process that outlives cohttpd only to kill its scripts. */
#include "handlers/cgi_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"

/* ---- the table both processes map ------------------------------------------ */

/* Slots of the table of process groups (a memfd both processes map): 256
 * KiB of address space, of which only the pages in use cost memory. */
#define GUARD_SLOTS 65536
#define GUARD_FREE  0    /* never used: a probe for a group ends here */
#define GUARD_GONE  (-1) /* used once: a probe goes on past it */

/* The slot where a probe for pgid starts (open addressing, linear). */
static size_t guard_home(pid_t pgid) { return ((size_t)pgid * 2654435761u) % GUARD_SLOTS; }

/* ---- cohttpd's side ---------------------------------------------------------- */

/* One guard per process, its whole job being to outlive the process:
 * process-wide state, under guard_lock. */
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static int32_t *guard_table; /* the shared table, NULL until the first script */
static int guard_memfd = -1; /* its memfd */
static int guard_pipe = -1;  /* the write end of the guard's stdin: never written */
static pid_t guard_pid;      /* the guard, 0 when none runs */

/* Makes the shared table. 0 or -errno. */
static int guard_table_make(void)
{
    void *map;

    guard_memfd = memfd_create("cohttpd-cgi-guard", MFD_CLOEXEC);
    if (guard_memfd < 0)
        return -errno;
    if (ftruncate(guard_memfd, GUARD_SLOTS * sizeof(int32_t)) < 0 ||
        (map = mmap(NULL, GUARD_SLOTS * sizeof(int32_t), PROT_READ | PROT_WRITE, MAP_SHARED,
                    guard_memfd, 0)) == MAP_FAILED) {
        int e = errno;

        close(guard_memfd);
        guard_memfd = -1;
        return -e;
    }
    guard_table = map;
    return 0;
}

/* Starts a guard: stdin the read end of a new pipe, fd 3 the table. */
static int guard_spawn(void)
{
    char *const argv[] = {CGI_GUARD_ARGV0, NULL};
    char *const envp[] = {NULL};
    posix_spawn_file_actions_t fa;
    int fds[2], r;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    if ((r = posix_spawn_file_actions_init(&fa)) == 0) {
        if ((r = posix_spawn_file_actions_adddup2(&fa, fds[0], 0)) == 0 &&
            (r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, guard_memfd, 3)) == 0 &&
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, 4)) == 0 &&
            (r = posix_spawn_file_actions_addchdir_np(&fa, "/")) == 0) {
            loop_child_begin();
            r = posix_spawn(&guard_pid, "/proc/self/exe", &fa, NULL, argv, envp);
            loop_child_end();
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    close(fds[0]);
    if (r != 0) {
        close(fds[1]);
        guard_pid = 0;
        return -r;
    }
    guard_pipe = fds[1];
    log_info("cgi: guard process %d started", (int)guard_pid);
    return 0;
}

/* A guard runs (started now, or again when the last one is gone: it
 * then finds the table as it was). 0 or -errno. */
static int guard_ensure(void)
{
    int r;

    if (guard_pid > 0 && waitpid(guard_pid, NULL, WNOHANG) == 0)
        return 0;
    if (guard_pid > 0) {
        log_error("cgi: the guard process %d is gone; starting another", (int)guard_pid);
        close(guard_pipe);
        guard_pipe = -1;
        guard_pid = 0;
    }
    if (!guard_table && (r = guard_table_make()) < 0)
        return r;
    return guard_spawn();
}

int cgi_guard_start(void)
{
    int r;

    pthread_mutex_lock(&guard_lock);
    r = guard_ensure();
    pthread_mutex_unlock(&guard_lock);
    return r;
}

int cgi_guard_add(pid_t pgid)
{
    int r;

    pthread_mutex_lock(&guard_lock);
    r = guard_pid > 0 ? 0 : guard_ensure(); /* cgi_guard_start() checked it */
    for (size_t i = 0, k = guard_home(pgid); r == 0; i++, k = (k + 1) % GUARD_SLOTS) {
        if (i == GUARD_SLOTS) {
            r = -ENOSPC;
        } else if (guard_table[k] == GUARD_FREE || guard_table[k] == GUARD_GONE) {
            guard_table[k] = (int32_t)pgid;
            break;
        }
    }
    pthread_mutex_unlock(&guard_lock);
    return r;
}

void cgi_guard_remove(pid_t pgid)
{
    pthread_mutex_lock(&guard_lock);
    for (size_t i = 0, k = guard_home(pgid); guard_table && i < GUARD_SLOTS;
         i++, k = (k + 1) % GUARD_SLOTS) {
        if (guard_table[k] == (int32_t)pgid) {
            guard_table[k] = GUARD_GONE;
            break;
        }
        if (guard_table[k] == GUARD_FREE)
            break; /* not listed */
    }
    pthread_mutex_unlock(&guard_lock);
}

/* ---- the guard ----------------------------------------------------------------- */

/* Only end of file or SIGKILL ends the guard: a terminal's ^C, systemd's
 * SIGTERM to the whole unit, or a reload signal meant for cohttpd must
 * not take it away before cohttpd is gone. */
static void guard_ignore_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
    sigset_t none;

    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int cgi_guard_main(void)
{
    const int32_t *table;
    char byte;

    prctl(PR_SET_NAME, "cohttpd-guard");
    guard_ignore_signals();
    table = mmap(NULL, GUARD_SLOTS * sizeof(int32_t), PROT_READ, MAP_SHARED, 3, 0);
    if (table == MAP_FAILED)
        return 1;
    close(3);
    /* Nothing is ever written: read() returns 0 once cohttpd is gone. */
    for (;;) {
        ssize_t n = read(0, &byte, 1);

        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    for (size_t k = 0; k < GUARD_SLOTS; k++) {
        if (table[k] > 0)
            kill(-table[k], SIGKILL);
    }
    return 0;
}
