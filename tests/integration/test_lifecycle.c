/* Integration: reload and stop while clients are busy: SIGHUP under load
 * (routes, roots, listeners and log files change; an invalid file is
 * refused) without a failed request, and SIGTERM during a slow response. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

static void cleanup(void) { daemon_kill(&d); }

TestSuite(lifecycle, .fini = cleanup);

/* Waits (at most ms) until the file at path contains needle. */
static bool wait_file(const char *path, const char *needle, long ms)
{
    long deadline = now_ms() + ms;

    do {
        char *text = file_slurp(path);
        bool found = strstr(text, needle) != NULL;

        free(text);
        if (found)
            return true;
        usleep(10000);
    } while (now_ms() < deadline);
    return false;
}

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

/* A TCP socket to 127.0.0.1:port (rcvbuf bytes of receive buffer when not
 * 0): the fd, or -errno from connect. */
static int connect_port(unsigned port, int rcvbuf)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

    if (fd < 0)
        return -errno;
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static char *get(unsigned port, const char *path)
{
    char req[512];
    size_t len;
    bool closed;
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);

    return raw_exchange(port, req, (size_t)n, HARNESS_WAIT_MS, &len, &closed);
}

static int get_status(unsigned port, const char *path)
{
    char *out = get(port, path);
    int status = response_status(out);

    free(out);
    return status;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Rewrites the config and sends SIGHUP; waits for the line in the error
 * log at log_path that says how the reload ended. */
static void reload(const char *ini, const char *log_path, const char *outcome)
{
    write_text(d.config, ini);
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    cr_assert(wait_file(log_path, outcome, HARNESS_WAIT_MS), "%s says '%s':\n%s", log_path, outcome,
              file_slurp(log_path));
}

/* ---- a client that keeps asking ---------------------------------------- */

struct client {
    unsigned port;
    atomic_bool stop;
    atomic_long ok, failed;
    char first_failure[256];
};

/* One whole response to "GET /a.txt" on fd: true when it is a 200 with the
 * expected body. Never asserts (runs on the client thread). */
static bool client_exchange(int fd, bool close_after)
{
    char req[128], buf[4096];
    size_t got = 0;
    int n = snprintf(req, sizeof req, "GET /a.txt HTTP/1.1\r\nHost: x\r\n%s\r\n",
                     close_after ? "Connection: close\r\n" : "");

    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return false;
    while (got < sizeof buf - 1) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char *end;
        ssize_t r;

        if (poll(&pfd, 1, HARNESS_WAIT_MS) <= 0)
            return false;
        r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0)
            return false;
        got += (size_t)r;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end && got >= (size_t)(end + 4 - buf) + 6)
            return strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strcmp(end + 4, "alpha\n") == 0;
    }
    return false;
}

static void client_record(struct client *c, bool ok, const char *what)
{
    if (ok) {
        atomic_fetch_add(&c->ok, 1);
    } else if (atomic_fetch_add(&c->failed, 1) == 0) {
        snprintf(c->first_failure, sizeof c->first_failure, "%s", what);
    }
}

/* Alternates a keep-alive connection carrying 10 requests and single
 * requests on new connections, until told to stop. */
static void *client_main(void *arg)
{
    struct client *c = arg;

    while (!atomic_load(&c->stop)) {
        int fd = connect_port(c->port, 0);

        if (fd < 0) {
            client_record(c, false, "connect failed");
            continue;
        }
        for (int i = 0; i < 10 && !atomic_load(&c->stop); i++)
            client_record(c, client_exchange(fd, false), "keep-alive request failed");
        close(fd);
        fd = connect_port(c->port, 0);
        if (fd < 0) {
            client_record(c, false, "connect failed");
            continue;
        }
        client_record(c, client_exchange(fd, true), "request on a new connection failed");
        close(fd);
        usleep(2000); /* spare the ephemeral ports other tests need */
    }
    return NULL;
}

#define INI_BASE                                                                                   \
    "[server]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = %s/access.log\n"                    \
    "error_log = %s/error.log\n[static /]\nroot = %s\n"

Test(lifecycle, reload_under_load_loses_no_request)
{
    struct client c = {0};
    pthread_t thread;
    char ini[2048], path[400], rotated[400], www2[400], error_log[400], *out, *log;
    unsigned port2 = free_port();
    long before;

    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 2\n"
                     "access_log = %ROOT%/../access.log\n[static /]\nroot = %ROOT%\n");
    site_write(&d, "a.txt", "alpha\n", 6);
    snprintf(www2, sizeof www2, "%s/www2", d.dir);
    cr_assert_eq(run_cmd(NULL, 0, "mkdir -p '%s' && echo new > '%s/n.txt'", www2, www2), 0);
    c.port = d.port;
    cr_assert_eq(pthread_create(&thread, NULL, client_main, &c), 0);
    cr_assert_eq(get_status(d.port, "/new/n.txt"), 404);

    /* 1: a new route with another root, a second listen address, the
     * error log in a file; the access log was renamed (logrotate) and is
     * opened anew. */
    snprintf(path, sizeof path, "%s/access.log", d.dir);
    snprintf(error_log, sizeof error_log, "%s/error.log", d.dir);
    cr_assert(wait_file(path, "GET /a.txt", HARNESS_WAIT_MS), "the access log gets lines");
    snprintf(rotated, sizeof rotated, "%s/access.log.1", d.dir);
    cr_assert_eq(rename(path, rotated), 0);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nlisten = 127.0.0.1:%u\nworkers = 2\n"
             "access_log = %s/access.log\nerror_log = %s\n"
             "[static /]\nroot = %s\n[static /new]\nroot = %s\n",
             port2, d.dir, error_log, d.root, www2);
    reload(ini, error_log, "(config generation 2)");
    out = get(d.port, "/new/n.txt");
    cr_assert_eq(response_status(out), 200, "the new route serves: %s", out);
    cr_assert(strstr(out, "\r\n\r\nnew\n"), "%s", out);
    free(out);
    cr_assert_eq(get_status(port2, "/a.txt"), 200, "the new address serves");
    cr_assert(wait_file(path, "GET /new/n.txt HTTP/1.1\" 200", HARNESS_WAIT_MS),
              "the reopened access log gets the lines after the reload");
    log = file_slurp(rotated);
    cr_assert(strstr(log, "GET /new/n.txt HTTP/1.1\" 404"), "the old file has the earlier lines");
    cr_assert_null(strstr(log, "GET /new/n.txt HTTP/1.1\" 200"), "and none after the reload");
    free(log);

    /* 2: an invalid file is refused; everything stays as it was. */
    reload("[server]\nlisten = 127.0.0.1:0\nbogus = 1\n", error_log, "reload failed");
    cr_assert(wait_file(error_log, "cohttpd.ini:3: unknown key 'bogus'", HARNESS_WAIT_MS),
              "the error log names the error");
    cr_assert_eq(get_status(d.port, "/new/n.txt"), 200);
    cr_assert_eq(get_status(port2, "/a.txt"), 200);

    /* 3: the route and the second address go away again; the error log was
     * renamed too and is opened anew. */
    snprintf(rotated, sizeof rotated, "%s/error.log.1", d.dir);
    cr_assert_eq(rename(error_log, rotated), 0);
    snprintf(ini, sizeof ini, INI_BASE, d.dir, d.dir, d.root);
    reload(ini, error_log, "(config generation 3)");
    log = file_slurp(rotated);
    cr_assert_null(strstr(log, "(config generation 3)"), "the rotated error log is left alone");
    free(log);
    cr_assert_eq(get_status(d.port, "/new/n.txt"), 404, "the removed route is gone");
    cr_assert_eq(connect_port(port2, 0), -ECONNREFUSED, "the removed address is closed");

    before = atomic_load(&c.ok);
    while (atomic_load(&c.ok) < before + 20 && atomic_load(&c.failed) == 0)
        usleep(1000); /* the client still gets answers after the last reload */
    atomic_store(&c.stop, true);
    pthread_join(thread, NULL);
    cr_assert_eq(atomic_load(&c.failed), 0, "%ld of %ld requests failed; the first: %s",
                 atomic_load(&c.failed), atomic_load(&c.failed) + atomic_load(&c.ok),
                 c.first_failure);
    cr_assert_gt(atomic_load(&c.ok), 100, "the client kept asking throughout");
    cr_log_info("%ld requests during the reloads", atomic_load(&c.ok));
    cr_assert_eq(daemon_stop(&d), 0);
}

/* ---- SIGTERM ------------------------------------------------------------ */

#define BIG_SIZE (16u << 20)

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + (i >> 12)); }

/* Reads exactly want bytes of body from fd into a pattern check; returns how
 * many matched before a mismatch, EOF or a stall of HARNESS_WAIT_MS. */
static size_t read_body(int fd, size_t offset, size_t want)
{
    unsigned char buf[65536];
    size_t got = 0;

    while (got < want) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        size_t cap = want - got < sizeof buf ? want - got : sizeof buf;
        ssize_t r;

        if (poll(&pfd, 1, HARNESS_WAIT_MS) <= 0)
            break;
        r = recv(fd, buf, cap, 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(offset + got + (size_t)i))
                return got + (size_t)i;
        got += (size_t)r;
    }
    return got;
}

/* Reads the response head byte by byte (so no body byte is consumed). */
static void read_head(int fd, char *head, size_t cap)
{
    size_t n = 0;

    while (n < cap - 1 && (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0)) {
        cr_assert_eq(recv(fd, head + n, 1, 0), 1, "the response head arrives");
        n++;
    }
    head[n] = '\0';
}

Test(lifecycle, sigterm_lets_a_slow_response_finish_and_refuses_new_connections)
{
    unsigned char *big = malloc(BIG_SIZE);
    char head[2048], value[32], *out;
    const char *req = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd, idle, status, refused = 0;
    size_t got, len;
    long deadline;
    bool closed;

    cr_assert_not_null(big);
    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = pattern(i);
    site_write(&d, "big.bin", big, BIG_SIZE);
    free(big);
    site_write(&d, "small.txt", "small\n", 6);

    /* An idle keep-alive connection, and a slow reader of a large file. */
    idle = tcp_connect(d.port);
    cr_assert_eq(send(idle, "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n", 36, 0), 36);
    out = read_responses(idle, 1, HARNESS_WAIT_MS, &len);
    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
    fd = connect_port(d.port, 4096);
    cr_assert_geq(fd, 0);
    cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    read_head(fd, head, sizeof head);
    cr_assert_eq(response_status(head), 200, "%s", head);
    cr_assert_not_null(response_header(head, "Content-Length", value, sizeof value));
    cr_assert_eq(strtoull(value, NULL, 10), BIG_SIZE);
    got = read_body(fd, 0, 1000);
    cr_assert_eq(got, 1000);

    cr_assert_eq(kill(d.pid, SIGTERM), 0);
    cr_assert(wait_file(d.log, "SIGTERM: stopping", HARNESS_WAIT_MS), "%s", file_slurp(d.log));
    /* New connections are refused once the listening sockets close. */
    deadline = now_ms() + HARNESS_WAIT_MS;
    while (now_ms() < deadline && (refused = connect_port(d.port, 0)) >= 0) {
        close(refused);
        usleep(5000);
    }
    cr_assert_eq(refused, -ECONNREFUSED, "connecting after SIGTERM is refused (%s)",
                 refused < 0 ? strerror(-refused) : "connected");
    /* The idle keep-alive connection is closed. */
    free(read_until_idle(idle, HARNESS_WAIT_MS, &len, &closed));
    cr_assert(closed, "the idle connection is closed at SIGTERM");
    close(idle);
    /* The slow response completes, every byte of it. */
    got += read_body(fd, got, BIG_SIZE - got);
    cr_assert_eq(got, BIG_SIZE, "the response finished whole (%zu of %u bytes)", got, BIG_SIZE);
    close(fd);

    deadline = now_ms() + HARNESS_WAIT_MS;
    while (waitpid(d.pid, &status, WNOHANG) == 0) {
        cr_assert(now_ms() < deadline, "cohttpd exits once the response is done");
        usleep(5000);
    }
    d.pid = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0 (%d)", status);
}
