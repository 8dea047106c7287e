/* Integration: a test process that dies, however it dies, leaves no daemon
 * behind: neither one it started with daemon_start nor one a shell command
 * of run_cmd runs. Each case plays the failing test in a child process. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

static void cleanup(void) { daemon_kill(&d); }

TestSuite(harness, .fini = cleanup);

/* True once pid is gone or a zombie (its new parent may not reap it). */
static bool process_gone(pid_t pid)
{
    char path[64], *stat, *end;
    bool gone;

    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    stat = file_slurp(path);
    end = strrchr(stat, ')');
    gone = !end || end[1] == '\0' || end[2] == 'Z' || end[2] == 'X';
    free(stat);
    return gone;
}

/* True when a connection to 127.0.0.1:port is refused. */
static bool port_refuses(unsigned port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool refused;

    cr_assert_geq(fd, 0);
    refused = connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

/* Waits (HARNESS_WAIT_MS at most) until pid is gone, then checks that nothing answers
 * on port any more. */
static void expect_stopped(pid_t pid, unsigned port)
{
    long deadline = now_ms() + HARNESS_WAIT_MS;

    /* A killed multithreaded process shows as a zombie as soon as its
     * main thread is gone; its sockets close with its last thread. */
    while (!(process_gone(pid) && port_refuses(port)) && now_ms() < deadline)
        usleep(10000);
    cr_assert(process_gone(pid), "daemon %d survived the test process that started it", pid);
    cr_assert(port_refuses(port), "port %u still accepts connections", port);
}

Test(harness, a_crashed_test_leaves_no_daemon)
{
    int fds[2];
    pid_t test, daemon_pid = 0;
    unsigned port = 0;
    int status;

    cr_assert_eq(pipe(fds), 0);
    test = harness_fork();
    if (test == 0) { /* the failing test: starts a daemon, then crashes */
        struct daemon inner;

        daemon_start(&inner, "[static /]\nroot = %ROOT%\n");
        if (write(fds[1], &inner.pid, sizeof inner.pid) < 0 ||
            write(fds[1], &inner.port, sizeof inner.port) < 0)
            _exit(1);
        abort();
    }
    close(fds[1]);
    cr_assert_eq(read(fds[0], &daemon_pid, sizeof daemon_pid), (ssize_t)sizeof daemon_pid);
    cr_assert_eq(read(fds[0], &port, sizeof port), (ssize_t)sizeof port);
    close(fds[0]);
    cr_assert_eq(waitpid(test, &status, 0), test);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the test process crashed");
    expect_stopped(daemon_pid, port);
}

Test(harness, a_killed_test_leaves_no_daemon_run_by_a_shell_command)
{
    char children[64], *log, *p;
    pid_t test, daemon_pid;
    unsigned port = 0;
    long deadline = now_ms() + HARNESS_WAIT_MS;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\n");
    test = harness_fork();
    if (test == 0) /* the test: runs the daemon in the foreground */
        _exit(run_cmd(NULL, 0, "exec '%s' -c '%s' 2>'%s'", cohttpd_bin(), d.config, d.log));
    do {
        log = file_slurp(d.log);
        p = strstr(log, "serving on 127.0.0.1:");
        if (p)
            port = (unsigned)strtoul(p + 21, NULL, 10);
        free(log);
    } while (port == 0 && now_ms() < deadline && (usleep(10000), true));
    cr_assert_neq(port, 0, "the daemon started");
    snprintf(children, sizeof children, "/proc/%d/task/%d/children", (int)test, (int)test);
    log = file_slurp(children);
    daemon_pid = (pid_t)strtol(log, NULL, 10);
    free(log);
    cr_assert_gt(daemon_pid, 0, "the shell runs the daemon");
    /* Criterion's timeout, or a crash, ends the test process like this. */
    cr_assert_eq(kill(test, SIGKILL), 0);
    cr_assert_eq(waitpid(test, NULL, 0), test);
    expect_stopped(daemon_pid, port);
}
