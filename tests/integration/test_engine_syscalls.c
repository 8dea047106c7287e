/* Integration: syscall economy under strace: pipelined writes coalesced, no epoll_ctl per request.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PIPELINED 16
#define CONNS     10
#define ROUNDS    50

static struct daemon d;
static char trace[400];
static const char small[] = "a small file\n";

static void start(void)
{
    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
                     "[static /]\nroot = %ROOT%\n");
    site_write(&d, "a.txt", small, sizeof small - 1);
    snprintf(trace, sizeof trace, "%s/strace.out", d.dir);
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0); }

TestSuite(syscalls, .init = start, .fini = stop, .timeout = 60);

/* Starts strace on the daemon for the syscalls listed (a -e trace= list),
 * writing to trace; fails the test when it cannot attach. */
static pid_t trace_start(const char *syscalls)
{
    pid_t tracer = strace_attach(d.pid, syscalls, trace);

    if (tracer == 0)
        cr_assert_fail("strace could not attach (packaging/install-deps --test installs it; "
                       "ptrace must be allowed): syscalls not counted");
    return tracer;
}

/* The whole strace output (malloc'd). */
static char *read_trace(void)
{
    FILE *f = fopen(trace, "r");
    char *text = calloc(1, 1 << 20);
    size_t n;

    cr_assert_not_null(f);
    cr_assert_not_null(text);
    n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The fd the daemon read the requests from: "read(FD, "GET /a.txt...". */
static int request_fd(const char *text)
{
    for (const char *p = text; (p = strstr(p, "read(")); p += 5) {
        char *end;
        long fd = strtol(p + 5, &end, 10);

        if (end != p + 5 && strncmp(end, ", \"GET /a.txt", 13) == 0)
            return (int)fd;
    }
    return -1;
}

/* Syscalls in text that write to fd. */
static int writes_to(const char *text, int fd)
{
    static const char *calls[] = {"sendmsg", "sendto", "write", "writev", "sendfile"};
    int n = 0;

    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        char call[32];
        size_t len = (size_t)snprintf(call, sizeof call, " %s(%d,", calls[i], fd);

        for (const char *p = text; (p = strstr(p, call)); p += len)
            n++;
    }
    return n;
}

/* Sends req on fd and checks that the answer is a.txt. */
static void get_small(int fd, const char *req)
{
    size_t got;
    char *out;

    cr_assert(tcp_send_all(fd, req, strlen(req)));
    out = read_responses(fd, 1, HARNESS_WAIT_MS, &got);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert_str_eq(response_body(out, got, &got), small);
    free(out);
}

Test(syscalls, sixteen_pipelined_gets_leave_in_one_write)
{
    char req[PIPELINED * 40], *out, *text;
    size_t len = 0, got;
    pid_t tracer = trace_start("read,sendmsg,sendto,write,writev,sendfile");
    int fd = tcp_connect(d.port), rfd, writes;

    for (int i = 0; i < PIPELINED; i++)
        len +=
            (size_t)snprintf(req + len, sizeof req - len, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(tcp_send_all(fd, req, len)); /* one send: one segment on loopback */
    out = read_responses(fd, PIPELINED, HARNESS_WAIT_MS, &got);
    cr_assert_eq(responses_complete(out, got, false), PIPELINED, "%s", out);
    free(out);
    close(fd);
    strace_detach(tracer);
    text = read_trace();
    rfd = request_fd(text);
    cr_assert_geq(rfd, 0, "strace did not see the requests read:\n%.2000s", text);
    writes = writes_to(text, rfd);
    printf("%d pipelined responses: %d write syscalls\n", PIPELINED, writes);
    cr_assert_eq(writes, 1, "%d pipelined responses took %d writes:\n%.4000s", PIPELINED, writes,
                 text);
    free(text);
}

Test(syscalls, keepalive_requests_cost_no_epoll_ctl)
{
    static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    pid_t tracer = trace_start("epoll_ctl");
    int fds[CONNS], calls = 0;
    char *text;

    for (int i = 0; i < CONNS; i++)
        fds[i] = tcp_connect(d.port);
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < CONNS; i++)
            cr_assert(tcp_send_all(fds[i], req, sizeof req - 1));
        for (int i = 0; i < CONNS; i++) {
            size_t got;
            char *out = read_responses(fds[i], 1, HARNESS_WAIT_MS, &got);

            cr_assert_eq(response_status(out), 200, "%s", out);
            free(out);
        }
    }
    for (int i = 0; i < CONNS; i++)
        close(fds[i]);
    strace_detach(tracer);
    text = read_trace();
    for (const char *p = text; (p = strstr(p, "epoll_ctl(")); p += 10)
        calls++;
    printf("%d requests on %d connections: %d epoll_ctl calls\n", CONNS * ROUNDS, CONNS, calls);
    /* One registration per connection (and at most one removal at close). */
    cr_assert_geq(calls, CONNS, "strace missed the registrations:\n%s", text);
    cr_assert_leq(calls, 2 * CONNS, "%d epoll_ctl calls for %d requests on %d connections:\n%s",
                  calls, CONNS * ROUNDS, CONNS, text);
    free(text);
}

/* A client that asks to close and sends nothing more gets its answer and
 * the close at once: no epoll registration (the request is there when the
 * connection is accepted), no shutdown and no wait for the client's FIN. */
Test(syscalls, close_requests_cost_no_epoll_ctl_and_no_linger)
{
    static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    pid_t tracer = trace_start("accept4,epoll_ctl,shutdown,close");
    int accepts = 0, ctls = 0, shutdowns = 0;
    char *text;

    for (int i = 0; i < CONNS; i++) {
        int fd = tcp_connect(d.port);

        get_small(fd, req);
        /* The daemon closes while this end stays open. */
        cr_assert(wait_closed(fd, HARNESS_WAIT_MS),
                  "the daemon did not close after Connection: close");
        close(fd);
    }
    strace_detach(tracer);
    text = read_trace();
    for (const char *p = text; (p = strstr(p, "accept4(")); p += 8)
        accepts++;
    for (const char *p = text; (p = strstr(p, "epoll_ctl(")); p += 10)
        ctls++;
    for (const char *p = text; (p = strstr(p, "shutdown(")); p += 9)
        shutdowns++;
    printf("%d closed connections: %d accept4, %d epoll_ctl, %d shutdown\n", CONNS, accepts, ctls,
           shutdowns);
    cr_assert_geq(accepts, CONNS, "strace missed the accepts:\n%s", text);
    cr_assert_eq(ctls, 0, "%d epoll_ctl calls for %d closed connections:\n%s", ctls, CONNS, text);
    cr_assert_eq(shutdowns, 0, "a lingering close where none was needed:\n%s", text);
    free(text);
}

/* Per keep-alive request the daemon makes one read and one send, plus its
 * share of epoll_wait: no clock, no stat or open of a cached file, no memory
 * from the kernel. The file cache re-checks an entry once a second, so a
 * stat now and then is allowed. The main thread (its tid is the daemon's
 * pid) serves no request: its wait for signals, which ends every second
 * and so shows on a slow run, is not counted. */
Test(syscalls, a_keepalive_request_costs_one_read_and_one_send)
{
    static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    enum { N = 50 };
    int fd = tcp_connect(d.port), reads = 0, sends = 0, waits = 0, stats = 0, other = 0;
    char *text, *line, *save = NULL;
    pid_t tracer;

    for (int i = 0; i < 2; i++) /* warm the file cache */
        get_small(fd, req);
    tracer = trace_start("all");
    for (int i = 0; i < N; i++)
        get_small(fd, req);
    strace_detach(tracer);
    close(fd);
    text = read_trace();
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *call = strchr(line, ' ');

        if (!call || strstr(line, "resumed>") || strstr(line, "+++") || strstr(line, "---"))
            continue;
        call += strspn(call, " ");
        if (strtol(line, NULL, 10) == d.pid)
            continue; /* the main thread */
        if (strncmp(call, "read(", 5) == 0)
            reads++;
        else if (strncmp(call, "sendto(", 7) == 0 || strncmp(call, "sendmsg(", 8) == 0)
            sends++;
        else if (strncmp(call, "epoll_wait(", 11) == 0)
            waits++;
        else if (strncmp(call, "newfstatat(", 11) == 0 || strncmp(call, "statx(", 6) == 0)
            stats++;
        else if (strncmp(call, "restart_syscall(", 16) == 0)
            continue; /* a wait interrupted by the attach */
        else {
            other++;
            printf("unexpected: %s\n", line);
        }
    }
    printf("%d keep-alive requests: %d read, %d send, %d epoll_wait, %d stat, %d other\n", N, reads,
           sends, waits, stats, other);
    cr_assert_eq(reads, N, "%d reads for %d requests", reads, N);
    cr_assert_eq(sends, N, "%d sends for %d requests", sends, N);
    cr_assert_leq(waits, N + 2, "%d epoll_wait for %d requests", waits, N);
    cr_assert_leq(stats, 4, "%d stats of a cached file in %d requests", stats, N);
    cr_assert_eq(other, 0, "%d other syscalls on the keep-alive path (printed above)", other);
    free(text);
}
