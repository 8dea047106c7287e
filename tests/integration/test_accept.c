/* Integration: accepting survives running out of descriptors, and max_connections pauses it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static const char req[] = "GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n";

/* CPU time (utime + stime, in clock ticks) the process has used. */
static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    FILE *f;
    long utime = 0, stime = 0;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    cr_assert_not_null(p);
    /* fields after the name: state(3) ... utime(14) stime(15) */
    cr_assert_eq(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime), 2);
    return utime + stime;
}

static bool served(int fd, int wait_ms)
{
    size_t len;
    char *out = read_responses(fd, 1, wait_ms, &len);
    bool ok = response_status(out) == 200;

    free(out);
    return ok;
}

Test(accept, out_of_descriptors_pauses_without_spinning)
{
    struct rlimit rl = {.rlim_cur = 40, .rlim_max = 40};
    struct daemon d;
    int fds[60], n_served = 0;
    long t0, t1, ticks = sysconf(_SC_CLK_TCK);
    char log[16384] = "";
    FILE *f;

    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
                     "[static /]\nroot = %ROOT%\n");
    site_write(&d, "f.txt", "ok\n", 3);
    /* Lower the running daemon's limit: 40 descriptors in all. */
    cr_assert_eq(prlimit(d.pid, RLIMIT_NOFILE, &rl, NULL), 0);
    for (int i = 0; i < 60; i++) {
        fds[i] = tcp_connect(d.port);
        cr_assert_eq(send(fds[i], req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
    }
    t0 = cpu_ticks(d.pid);
    sleep(1);
    t1 = cpu_ticks(d.pid);
    cr_assert_lt(t1 - t0, ticks / 2, "the daemon spun while out of descriptors: %ld ticks in 1 s",
                 t1 - t0);
    /* The first connection was accepted before the descriptors ran out:
     * its answer comes, however loaded the machine; those the daemon
     * could not accept have none to give meanwhile. */
    cr_assert(served(fds[0], HARNESS_WAIT_MS), "the first connection is served: %s",
              file_slurp(d.log));
    n_served = 1;
    for (int i = 1; i < 60; i++)
        if (served(fds[i], 100))
            n_served++;
    cr_assert_lt(n_served, 60, "40 descriptors cannot hold 60 connections");
    for (int i = 0; i < 60; i++)
        close(fds[i]);
    /* Descriptors are back: accepting resumes and new clients are served. */
    for (int i = 0; i < 5; i++) {
        int fd = tcp_connect(d.port);

        cr_assert_eq(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
        cr_assert(served(fd, HARNESS_WAIT_MS), "not served after descriptors came back: %s",
                  file_slurp(d.log));
        close(fd);
    }
    f = fopen(d.log, "r");
    cr_assert_not_null(f);
    log[fread(log, 1, sizeof log - 1, f)] = '\0';
    fclose(f);
    cr_assert(strstr(log, "Too many open files"), "the pause is logged: %s", log);
    cr_assert_eq(daemon_stop(&d), 0);
}

Test(accept, max_connections_pauses_accepting)
{
    struct daemon d;
    int fds[4], extra;

    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\nmax_connections = 4\n"
                     "access_log = off\n[static /]\nroot = %ROOT%\n");
    site_write(&d, "f.txt", "ok\n", 3);
    for (int i = 0; i < 4; i++) {
        fds[i] = tcp_connect(d.port);
        cr_assert_eq(send(fds[i], req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
        cr_assert(served(fds[i], HARNESS_WAIT_MS));
    }
    /* A fifth client waits in the listen queue: connected, not answered. */
    extra = tcp_connect(d.port);
    cr_assert_eq(send(extra, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
    cr_assert_not(served(extra, 500), "a fifth connection was served over max_connections = 4");
    /* One leaves: the fifth is accepted and answered. */
    close(fds[0]);
    cr_assert(served(extra, HARNESS_WAIT_MS), "accepting did not resume under max_connections");
    close(extra);
    for (int i = 1; i < 4; i++)
        close(fds[i]);
    cr_assert_eq(daemon_stop(&d), 0);
}
