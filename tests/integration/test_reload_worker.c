/* Integration: a reload is all or nothing; a worker that cannot take the new configuration
 * leaves every worker on the old one, and the daemon says so. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "test_static_util.h"

/* How long a reload may take before it is a failure: a loaded machine can
 * stall one for seconds. */
#define WAIT_MS 30000
/* Connections per check: SO_REUSEPORT spreads them over both workers (all
 * of them on one worker has odds of 2^-39). */
#define CONNS 40

static struct daemon d;
static int notify_fd = -1;

/* The daemon (the test build: its [echo] kind can fail a worker's
 * preparation on request) with two workers and a NOTIFY_SOCKET. */
static void start(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char path[sizeof sun.sun_path];

    daemon_prepare(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
                       "[static /]\nroot = %ROOT%\n");
    site_write(&d, "index.html", "old\n", 4);
    site_write(&d, "next/index.html", "new\n", 4);
    cr_assert_lt((size_t)snprintf(path, sizeof path, "%s/notify", d.dir), sizeof path);
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(notify_fd, 0);
    memcpy(sun.sun_path, path, sizeof path);
    cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sun, sizeof sun), 0, "%s", strerror(errno));
    cr_assert_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
    daemon_start_prepared(&d, cohttpd_test_bin());
}

static void stop(void)
{
    close(notify_fd);
    cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly");
}

TestSuite(reload_worker, .init = start, .fini = stop);

/* Writes the configuration: the static root below d.root (rel) and, when
 * fail > 0, an [echo /echo] route whose preparation fails on that many
 * workers. */
static void write_config(const char *rel, unsigned fail)
{
    FILE *f = fopen(d.config, "w");

    cr_assert_not_null(f);
    fprintf(f,
            "[server]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
            "[static /]\nroot = %s%s\n[echo /echo]\nfail_worker_init = %u\n",
            d.root, rel, fail);
    cr_assert_eq(fclose(f), 0);
}

/* Sends SIGHUP and returns the STATUS= of the READY=1 that ends the reload
 * (malloc'd), failing the test without one within WAIT_MS. */
static char *reload_status(void)
{
    long deadline = now_ms() + WAIT_MS;
    char msg[4096];

    while (recv(notify_fd, msg, sizeof msg, MSG_DONTWAIT) > 0)
        ; /* what came before this reload */
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    while (now_ms() < deadline) {
        struct pollfd pfd = {.fd = notify_fd, .events = POLLIN};
        ssize_t n;
        const char *status;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        n = recv(notify_fd, msg, sizeof msg - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        status = strstr(msg, "STATUS=");
        if (strstr(msg, "READY=1") && status)
            return strdup(status);
    }
    cr_assert_fail("no READY=1 within %d ms of SIGHUP; stderr:\n%s", WAIT_MS, file_slurp(d.log));
    return NULL;
}

/* Every one of CONNS new connections gets body for / (and status for /echo). */
static void expect_everywhere(const char *body, int echo_status)
{
    for (int i = 0; i < CONNS; i++) {
        struct st_resp r = st_get(d.port, "/", "");
        struct st_resp e = st_get(d.port, "/echo", "");

        cr_assert_eq(r.status, 200, "connection %d: %s", i, r.raw);
        cr_assert(st_body_is(&r, body, strlen(body)), "connection %d: want %s, got %s", i, body,
                  r.raw);
        cr_assert_eq(e.status, echo_status, "connection %d: /echo: %s", i, e.raw);
        st_free(&r);
        st_free(&e);
    }
}

Test(reload_worker, a_worker_that_cannot_switch_keeps_every_worker_on_the_old_configuration)
{
    char *status, *log;

    expect_everywhere("old\n", 404);
    write_config("/next", 1);
    status = reload_status();
    log = file_slurp(d.log);
    cr_assert(strstr(status, "reload failed"), "STATUS= says the reload failed: %s", status);
    cr_assert(strstr(status, "config generation 1"), "generation 1 still serves: %s", status);
    cr_assert(strstr(status, "a worker cannot switch"), "STATUS= says why: %s", status);
    cr_assert(strstr(log, "cannot prepare the new configuration"), "the log names it:\n%s", log);
    cr_assert_null(strstr(log, "(config generation 2)"), "no generation 2:\n%s", log);
    free(status);
    free(log);
    expect_everywhere("old\n", 404);

    /* The same file, fixed: every worker switches. */
    write_config("/next", 0);
    status = reload_status();
    cr_assert_null(strstr(status, "reload failed"), "%s", status);
    cr_assert(strstr(status, "config generation 2"), "%s", status);
    free(status);
    expect_everywhere("new\n", 200);
}

/* 127.0.0.2 and a port free there now. */
static struct sockaddr_in second_address(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_eq(inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr), 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return sa;
}

/* Writes a configuration that also listens on sa, with an [echo] route
 * that fails on fail workers. */
static void write_config_two(const struct sockaddr_in *sa, unsigned fail)
{
    FILE *f = fopen(d.config, "w");

    cr_assert_not_null(f);
    fprintf(f,
            "[server]\nlisten = 127.0.0.1:0\nlisten = 127.0.0.2:%u\nworkers = 2\n"
            "access_log = off\n[static /]\nroot = %s\n[echo /echo]\nfail_worker_init = %u\n",
            ntohs(sa->sin_port), d.root, fail);
    cr_assert_eq(fclose(f), 0);
}

/* connect() to sa: 0 or errno. */
static int try_connect(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 ? 0 : errno;

    close(fd);
    return r;
}

Test(reload_worker, a_failed_switch_closes_the_new_listen_address)
{
    struct sockaddr_in sa = second_address();
    char *status, *log;

    write_config_two(&sa, 2);
    status = reload_status();
    log = file_slurp(d.log);
    cr_assert(strstr(status, "reload failed"), "%s\nstderr:\n%s", status, log);
    cr_assert(strstr(log, "cannot prepare the new configuration"), "%s", log);
    free(status);
    free(log);
    cr_assert_eq(try_connect(&sa), ECONNREFUSED,
                 "127.0.0.2:%u is closed again after the failed reload", ntohs(sa.sin_port));
    expect_everywhere("old\n", 404);

    /* The same addresses without the failure: the new one serves. */
    write_config_two(&sa, 0);
    status = reload_status();
    cr_assert(strstr(status, "config generation 2"), "%s", status);
    free(status);
    cr_assert_eq(try_connect(&sa), 0, "127.0.0.2:%u serves generation 2", ntohs(sa.sin_port));
}

/* Waits (WAIT_MS at most) until the daemon logs generation gen. */
static void wait_generation(unsigned gen)
{
    char needle[64];

    snprintf(needle, sizeof needle, "(config generation %u)", gen);
    cr_assert(file_wait_for(d.log, needle, WAIT_MS), "no '%s' within %d ms; stderr:\n%s", needle,
              WAIT_MS, file_slurp(d.log));
}

/*
 * A connection that stays busy across a reload (a request pipelined behind
 * another) serves its next request under the new configuration, parsed
 * with the new limits: here a max_header_size that refuses its head. (The
 * parser kept the old generation's limits, freed with it: a use after
 * free under AddressSanitizer, found by the soak.)
 */
Test(reload_worker, a_request_pipelined_after_a_reload_gets_the_new_limits)
{
    static const char first[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHo";
    char rest[4096], *out;
    int fd = tcp_connect(d.port), n;
    size_t len;
    FILE *f;

    cr_assert(tcp_send_all(fd, first, sizeof first - 1));
    out = read_responses(fd, 1, WAIT_MS, &len);
    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
    f = fopen(d.config, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "[server]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
            "[limits]\nmax_header_size = 1k\n[static /]\nroot = %s\n",
            d.root);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    wait_generation(2);
    /* The second head's end, and a third with a 2 KB header behind it. */
    n = snprintf(rest, sizeof rest,
                 "st: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nX-Big: %02000d\r\n\r\n", 0);
    cr_assert(tcp_send_all(fd, rest, (size_t)n));
    out = read_responses(fd, 2, WAIT_MS, &len);
    cr_assert_eq(response_count(out, len), 2, "%s", out);
    cr_assert_eq(response_status(out), 200, "the request begun before the reload: %s", out);
    cr_assert(strstr(out, "HTTP/1.1 431 "), "the third head is over the new 1k limit: %s", out);
    free(out);
    close(fd);
}
