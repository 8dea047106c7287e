/* Integration: systemd glue with systemd's own tools: socket activation
 * (systemd-socket-activate), Type=notify messages on a NOTIFY_SOCKET, and the
 * watchdog that goes quiet while a worker loop is stuck. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The daemon of the running test (each test runs in its own process); the
 * suites' fini kills it and removes its directory even after a failure. */
static struct daemon d;

static void cleanup(void) { daemon_kill(&d); }

TestSuite(socket_activation, .fini = cleanup);
TestSuite(notify, .fini = cleanup);

/* Waits (at most ms) until the daemon's stderr contains needle. */
static bool wait_log(const struct daemon *dm, const char *needle, long ms)
{
    long deadline = now_ms() + ms;

    do {
        char *log = file_slurp(dm->log);
        bool found = strstr(log, needle) != NULL;

        free(log);
        if (found)
            return true;
        usleep(10000);
    } while (now_ms() < deadline);
    return false;
}

/* A port nothing listens on right now (bound once, then released). */
static unsigned free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* connect() to 127.0.0.1:port: 0, or the errno it failed with. */
static int try_connect(unsigned port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        r = errno;
    close(fd);
    return r;
}

/* GET path on a new connection (Connection: close); returns the response. */
static char *get(unsigned port, const char *path)
{
    char req[512];
    size_t len;
    bool closed;
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);

    return raw_exchange(port, req, (size_t)n, HARNESS_WAIT_MS, &len, &closed);
}

/* Runs argv with stderr to dm->log and extra "NAME=value" variables (NULL
 * terminated; "WATCHDOG_PID=self" stands for the child's own pid). */
static pid_t spawn(struct daemon *dm, char *const argv[], const char *const env[])
{
    pid_t pid = harness_fork();

    if (pid == 0) {
        int fd = open(dm->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fd, STDOUT_FILENO);

        dup2(fd, STDERR_FILENO);
        for (size_t i = 0; env && env[i]; i++) {
            char name[64], value[300];
            const char *eq = strchr(env[i], '=');

            snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
            snprintf(value, sizeof value, "%s", eq + 1);
            if (strcmp(env[i], "WATCHDOG_PID=self") == 0)
                snprintf(value, sizeof value, "%d", (int)getpid());
            setenv(name, value, 1);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    dm->pid = pid;
    return pid;
}

/* SIGTERM to d, then its exit code (128 + signal when killed); -1 when
 * it did not exit within HARNESS_WAIT_MS (cleanup() kills it). */
static int stop_daemon(void)
{
    long deadline = now_ms() + HARNESS_WAIT_MS;
    int status = 0;
    pid_t pid = d.pid;

    kill(pid, SIGTERM);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline)
            return -1; /* cleanup() kills it */
        usleep(5000);
    }
    d.pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Starts `systemd-socket-activate -l 127.0.0.1:port [--fdname=NAME] cohttpd
 * -c CONFIG`; it execs the daemon (same pid) on the first connection. */
static pid_t socket_activate(struct daemon *dm, unsigned port, const char *fdname)
{
    char listen[64], name[128];
    char *argv[10];
    size_t n = 0;

    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    snprintf(name, sizeof name, "--fdname=%s", fdname ? fdname : "");
    argv[n++] = "systemd-socket-activate";
    argv[n++] = "-l";
    argv[n++] = listen;
    if (fdname)
        argv[n++] = name;
    argv[n++] = (char *)cohttpd_bin();
    argv[n++] = "-c";
    argv[n++] = (char *)dm->config;
    argv[n] = NULL;
    return spawn(dm, argv, NULL);
}

/* Waits until something listens on port (systemd-socket-activate is up). */
static void wait_listening(unsigned port)
{
    long deadline = now_ms() + HARNESS_WAIT_MS;

    while (try_connect(port) != 0) {
        cr_assert(now_ms() < deadline, "nothing listens on %u", port);
        usleep(10000);
    }
}

/* The flags of the daemon's fd (octal, from /proc/PID/fdinfo). */
static unsigned long fd_flags(pid_t pid, int fd)
{
    char path[64], *info, *p;
    unsigned long flags;

    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
    info = file_slurp(path);
    p = strstr(info, "flags:");
    cr_assert_not_null(p, "no fdinfo for fd %d", fd);
    flags = strtoul(p + 6, NULL, 8);
    free(info);
    return flags;
}

/* How many of the daemon's epoll instances watch fd with EPOLLEXCLUSIVE. */
static int exclusive_watchers(pid_t pid, int fd)
{
    char dir[64], pattern[32];
    struct dirent *e;
    DIR *dp;
    int n = 0;

    snprintf(dir, sizeof dir, "/proc/%d/fdinfo", (int)pid);
    snprintf(pattern, sizeof pattern, "tfd: %8d events: ", fd);
    dp = opendir(dir);
    cr_assert_not_null(dp);
    while ((e = readdir(dp))) {
        char path[400], *info, *p;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        info = file_slurp(path);
        p = strstr(info, pattern);
        if (p && (strtoul(p + strlen(pattern), NULL, 16) & (1u << 28))) /* EPOLLEXCLUSIVE */
            n++;
        free(info);
    }
    closedir(dp);
    return n;
}

Test(socket_activation, serves_on_the_inherited_socket_when_no_listen_line_matches)
{
    unsigned port = free_port();
    pid_t pid;
    char *out;
    int n;

    daemon_prepare(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 2\n[static /]\nroot = %ROOT%\n");
    site_write(&d, "hello.txt", "over an inherited socket\n", 25);
    pid = socket_activate(&d, port, NULL);
    wait_listening(port);
    out = get(port, "/hello.txt");
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert(strstr(out, "\r\n\r\nover an inherited socket\n"), "%s", out);
    free(out);
    cr_assert(wait_log(&d, "no inherited socket matches a listen line", 1000),
              "the log says the listen lines are ignored");
    cr_assert(wait_log(&d, "serving on ", HARNESS_WAIT_MS), "every worker listens");
    cr_assert(fd_flags(pid, 3) & O_NONBLOCK, "the inherited socket is non-blocking");
    n = exclusive_watchers(pid, 3);
    cr_assert_eq(n, 2, "both workers watch the inherited socket with EPOLLEXCLUSIVE (%d)", n);
    for (int i = 0; i < 20; i++) { /* every worker may take a connection */
        out = get(port, "/hello.txt");
        cr_assert_eq(response_status(out), 200, "%s", out);
        free(out);
    }
    cr_assert_eq(stop_daemon(), 0);
}

Test(socket_activation, a_listen_line_takes_the_socket_with_its_address)
{
    unsigned port = free_port();
    char ini[256], *out, *log;

    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:%u\nlisten = 127.0.0.1:0\nworkers = 2\n"
             "[static /]\nroot = %%ROOT%%\n",
             port);
    daemon_prepare(&d, ini);
    site_write(&d, "a.txt", "a\n", 2);
    socket_activate(&d, port, NULL);
    wait_listening(port);
    out = get(port, "/a.txt");
    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
    /* The line it matched was not bound again (that would fail: the port is
     * taken); the other line was bound by the daemon and serves too. */
    cr_assert(wait_log(&d, "serving on ", HARNESS_WAIT_MS));
    log = file_slurp(d.log);
    cr_assert_null(strstr(log, "matches no listen line"), "%s", log);
    cr_assert_null(strstr(log, "no inherited socket matches"), "%s", log);
    d.port = 0;
    for (const char *p = strstr(log, "serving on "); p && (p = strstr(p, "127.0.0.1:")); p++) {
        unsigned other = (unsigned)strtoul(p + 10, NULL, 10);

        if (other != port)
            d.port = other;
    }
    free(log);
    cr_assert_neq(d.port, 0, "the second listen line is bound");
    out = get(d.port, "/a.txt");
    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
    cr_assert_eq(stop_daemon(), 0);
}

Test(socket_activation, a_listen_line_takes_the_socket_named_after_it)
{
    unsigned port = free_port(), named = free_port();
    char ini[256], name[64], *out, *log;

    /* FileDescriptorName=127.0.0.1_NAMED names the line 127.0.0.1:NAMED,
     * whatever address the socket has: the daemon must not bind NAMED. */
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:%u\nworkers = 2\n"
             "[static /]\nroot = %%ROOT%%\n",
             named);
    snprintf(name, sizeof name, "127.0.0.1_%u", named);
    daemon_prepare(&d, ini);
    site_write(&d, "a.txt", "a\n", 2);
    socket_activate(&d, port, name);
    wait_listening(port);
    out = get(port, "/a.txt");
    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
    cr_assert(wait_log(&d, "serving on ", HARNESS_WAIT_MS));
    log = file_slurp(d.log);
    cr_assert_null(strstr(log, "no inherited socket matches"), "%s", log);
    free(log);
    cr_assert_eq(try_connect(named), ECONNREFUSED, "the named line was not bound again");
    cr_assert_eq(stop_daemon(), 0);
}

/* ---- Type=notify -------------------------------------------------------- */

static int notify_socket(const struct daemon *dm, char *path, size_t cap)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    snprintf(path, cap, "%s/notify", dm->dir);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0, "%s", strerror(errno));
    return fd;
}

/* Receives notifications until one has a line starting with `line` (e.g.
 * "READY=1"); copies it to out. False after ms without one. */
static bool notify_wait(int fd, const char *line, long ms, char *out, size_t cap)
{
    long deadline = now_ms() + ms;
    size_t ll = strlen(line);

    while (now_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
            continue;
        n = recv(fd, out, cap - 1, 0);
        if (n <= 0)
            continue;
        out[n] = '\0';
        for (const char *p = out; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            if (strncmp(p, line, ll) == 0)
                return true;
    }
    return false;
}

/* Discards what is queued on the notify socket. */
static void notify_drain(int fd)
{
    char buf[4096];

    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

/* Starts cohttpd -c dm->config with NOTIFY_SOCKET and a 1 s watchdog. */
static pid_t start_notified(struct daemon *dm, const char *notify_path)
{
    char env_notify[400];
    const char *env[] = {env_notify, "WATCHDOG_USEC=1000000", "WATCHDOG_PID=self", NULL};
    char *argv[] = {(char *)cohttpd_bin(), "-c", dm->config, NULL};

    snprintf(env_notify, sizeof env_notify, "NOTIFY_SOCKET=%s", notify_path);
    return spawn(dm, argv, env);
}

static unsigned long long monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static void write_config(const struct daemon *dm, const char *text)
{
    FILE *f = fopen(dm->config, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes ini, sends SIGHUP to pid and expects RELOADING=1, then READY=1
 * with a STATUS= that says the reload failed, why (error), and that
 * generation 2 still serves. */
static void expect_failed_reload(int fd, pid_t pid, const char *ini, const char *error)
{
    char msg[4096];

    write_config(&d, ini);
    notify_drain(fd);
    kill(pid, SIGHUP);
    cr_assert(notify_wait(fd, "RELOADING=1", HARNESS_WAIT_MS, msg, sizeof msg));
    cr_assert(notify_wait(fd, "READY=1", HARNESS_WAIT_MS, msg, sizeof msg));
    cr_assert(strstr(msg, "reload failed"), "%s", msg);
    cr_assert(strstr(msg, error), "STATUS= names the error: %s", msg);
    cr_assert(strstr(msg, "config generation 2"), "the old generation still serves: %s", msg);
}

Test(notify, ready_status_watchdog_reloading_and_stopping)
{
    char path[320], msg[4096], ini[512], *p;
    unsigned long long before, mono;
    pid_t pid;
    int fd;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\n");
    fd = notify_socket(&d, path, sizeof path);
    pid = start_notified(&d, path);
    cr_assert(notify_wait(fd, "READY=1", HARNESS_WAIT_MS, msg, sizeof msg),
              "READY=1 after startup");
    cr_assert(strstr(msg, "STATUS="), "READY=1 comes with a STATUS= line: %s", msg);
    cr_assert(strstr(msg, "config generation 1"), "%s", msg);
    /* The address the kernel chose for port 0, as -l 127.0.0.1:0 users need. */
    cr_assert(strstr(msg, "STATUS=serving on 127.0.0.1:") && !strstr(msg, "127.0.0.1:0;"),
              "STATUS= names the bound address: %s", msg);
    cr_assert(wait_log(&d, "serving on ", 1000), "READY=1 only once serving");
    cr_assert(notify_wait(fd, "WATCHDOG=1", HARNESS_WAIT_MS, msg, sizeof msg), "WATCHDOG=1 pings");
    cr_assert(notify_wait(fd, "STATUS=", HARNESS_WAIT_MS, msg, sizeof msg), "STATUS= refreshes");
    cr_assert(strstr(msg, "connections") && strstr(msg, "requests/s"), "%s", msg);

    /* A valid reload: RELOADING=1 with the time it began, then READY=1. */
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 2\n[static /]\nroot = %s\n", d.root);
    write_config(&d, ini);
    notify_drain(fd);
    before = monotonic_usec();
    kill(pid, SIGHUP);
    cr_assert(notify_wait(fd, "RELOADING=1", HARNESS_WAIT_MS, msg, sizeof msg),
              "RELOADING=1 on SIGHUP");
    p = strstr(msg, "MONOTONIC_USEC=");
    cr_assert_not_null(p, "RELOADING=1 carries MONOTONIC_USEC=: %s", msg);
    mono = strtoull(p + 15, NULL, 10);
    cr_assert(mono >= before && mono <= monotonic_usec(),
              "MONOTONIC_USEC is CLOCK_MONOTONIC when the reload began: %llu", mono);
    cr_assert(notify_wait(fd, "READY=1", HARNESS_WAIT_MS, msg, sizeof msg),
              "READY=1 after the reload");
    cr_assert(strstr(msg, "config generation 2"), "%s", msg);

    /* An invalid one: still RELOADING=1 then READY=1, and STATUS= says why. */
    expect_failed_reload(fd, pid, "[server]\nlisten = 127.0.0.1:0\nworkerz = 2\n",
                         "cohttpd.ini:3:");
    cr_assert(notify_wait(fd, "STATUS=", HARNESS_WAIT_MS, msg, sizeof msg));
    cr_assert(strstr(msg, "last reload failed"), "later STATUS= lines keep the error: %s", msg);
    /* An empty (truncated) file is refused the same way. */
    expect_failed_reload(fd, pid, "", "cohttpd.ini: the file is empty");

    notify_drain(fd);
    kill(pid, SIGTERM);
    cr_assert(notify_wait(fd, "STOPPING=1", HARNESS_WAIT_MS, msg, sizeof msg),
              "STOPPING=1 on SIGTERM");
    cr_assert_eq(stop_daemon(), 0);
    close(fd);
}

/* The thread ids of the daemon other than its main thread: the workers. */
static size_t worker_tids(pid_t pid, pid_t *out, size_t cap)
{
    char dir[64];
    struct dirent *e;
    DIR *dp;
    size_t n = 0;

    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    dp = opendir(dir);
    cr_assert_not_null(dp);
    while ((e = readdir(dp)) && n < cap) {
        pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);

        if (tid > 0 && tid != pid)
            out[n++] = tid;
    }
    closedir(dp);
    return n;
}

Test(notify, watchdog_goes_quiet_while_a_worker_loop_is_stuck)
{
    char path[320], msg[4096];
    pid_t pid, tids[16];
    int fd, status;
    long until;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\n");
    fd = notify_socket(&d, path, sizeof path);
    pid = start_notified(&d, path);
    cr_assert(notify_wait(fd, "READY=1", HARNESS_WAIT_MS, msg, sizeof msg));
    cr_assert(notify_wait(fd, "WATCHDOG=1", HARNESS_WAIT_MS, msg, sizeof msg));
    cr_assert_eq(worker_tids(pid, tids, 16), 2, "two worker threads");

    /* Freeze one worker thread (only it: ptrace stops a single thread). */
    cr_assert_eq(ptrace(PTRACE_SEIZE, tids[0], NULL, NULL), 0, "%s", strerror(errno));
    cr_assert_eq(ptrace(PTRACE_INTERRUPT, tids[0], NULL, NULL), 0);
    cr_assert_eq(waitpid(tids[0], &status, __WALL), tids[0]);
    cr_assert(wait_log(&d, "withholding WATCHDOG=1", HARNESS_WAIT_MS), "the stuck loop is noticed");
    notify_drain(fd);
    until = now_ms() + 1500; /* three ticks of a 1 s watchdog */
    while (now_ms() < until) {
        cr_assert_not(notify_wait(fd, "WATCHDOG=1", until - now_ms(), msg, sizeof msg),
                      "no WATCHDOG=1 while a worker is stuck");
    }
    cr_assert_eq(ptrace(PTRACE_DETACH, tids[0], NULL, NULL), 0);
    cr_assert(notify_wait(fd, "WATCHDOG=1", HARNESS_WAIT_MS, msg, sizeof msg), "pings resume");
    cr_assert_eq(stop_daemon(), 0);
    close(fd);
}
