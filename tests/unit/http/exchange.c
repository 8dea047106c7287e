/* Tests of the full-duplex exchange (server/http/response.c, body.c, exchange.c, conn.c)
 * through the in-process loopback harness: streaming both ways, flush, the body after the
 * head, cleanups, takeover. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/io.h"
#include "echo_stream.h"
#include "loopback.h"

#define ECHO_SIZE (10u << 20)
#define WAIT_MS   10000

/* ---- the streaming echo: 10 MB up while it comes back ---- */

/* A request of ECHO_SIZE pseudo-random bytes, chunked in pieces of varying
 * size, or with a Content-Length. */
static char *echo_request(const char *body, bool chunked, size_t *len)
{
    char *req = malloc(ECHO_SIZE + ECHO_SIZE / 8 + 256);
    size_t off = 0, sent = 0, piece = 1;

    cr_assert_not_null(req);
    if (!chunked) {
        off = (size_t)sprintf(req, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n\r\n",
                              ECHO_SIZE);
        memcpy(req + off, body, ECHO_SIZE);
        *len = off + ECHO_SIZE;
        return req;
    }
    off = (size_t)sprintf(req,
                          "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    while (sent < ECHO_SIZE) {
        size_t n = piece < ECHO_SIZE - sent ? piece : ECHO_SIZE - sent;

        off += (size_t)sprintf(req + off, "%zx\r\n", n);
        memcpy(req + off, body + sent, n);
        off += n;
        memcpy(req + off, "\r\n", 2);
        off += 2;
        sent += n;
        piece = piece * 3 % 70001 + 1; /* 1 byte to ~70 KB */
    }
    off += (size_t)sprintf(req + off, "0\r\n\r\n");
    *len = off;
    return req;
}

/* True once out[0..len) holds a whole response (head and body). */
static bool response_complete(const char *out, size_t len)
{
    const char *end = memmem(out, len, "\r\n\r\n", 4);
    size_t head, vlen;
    const char *cl;

    if (!end)
        return false;
    head = (size_t)(end - out) + 4;
    cl = loopback_header(out, "Content-Length", &vlen);
    if (cl)
        return len >= head + strtoull(cl, NULL, 10);
    return len >= head + 5 && memcmp(out + len - 5, "0\r\n\r\n", 5) == 0;
}

/* Sends req while reading the response, as a full-duplex client does;
 * returns the response bytes (*got). Fails when neither side moves for
 * WAIT_MS: a deadlock. */
static char *duplex_exchange(struct loopback *lb, const char *req, size_t len, size_t *got)
{
    size_t cap = ECHO_SIZE + ECHO_SIZE / 4 + 4096, sent = 0;
    char *out = malloc(cap);

    cr_assert_not_null(out);
    *got = 0;
    while (!response_complete(out, *got)) {
        struct pollfd pfd = {.fd = lb->fd, .events = POLLIN | (sent < len ? POLLOUT : 0)};
        ssize_t n;

        cr_assert_gt(poll(&pfd, 1, WAIT_MS), 0, "no progress for %d ms: sent %zu of %zu, got %zu",
                     WAIT_MS, sent, len, *got);
        if (pfd.revents & POLLOUT) {
            n = send(lb->fd, req + sent, len - sent > 65536 ? 65536 : len - sent,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
            cr_assert(n > 0 || errno == EAGAIN, "send: %s", strerror(errno));
            sent += n > 0 ? (size_t)n : 0;
        }
        if (pfd.revents & (POLLIN | POLLHUP)) {
            n = recv(lb->fd, out + *got, cap - *got, MSG_DONTWAIT);
            cr_assert(n > 0 || (n < 0 && errno == EAGAIN), "the server closed after %zu bytes",
                      *got);
            *got += n > 0 ? (size_t)n : 0;
        }
    }
    cr_assert_eq(sent, len, "the whole request went out");
    return out;
}

static char *random_body(void)
{
    char *body = malloc(ECHO_SIZE);
    uint32_t s = 2463534242u;

    cr_assert_not_null(body);
    for (size_t i = 0; i < ECHO_SIZE; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        body[i] = (char)(s >> 24);
    }
    return body;
}

static void echo_ten_megabytes(bool chunked)
{
    struct loopback lb;
    char *body = random_body(), *req, *out, *decoded = malloc(ECHO_SIZE);
    size_t len, got, vlen;
    const char *head_end;

    loopback_start(&lb, echo_stream, NULL, NULL);
    req = echo_request(body, chunked, &len);
    out = duplex_exchange(&lb, req, len, &got);
    cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "%.200s", out);
    head_end = memmem(out, got, "\r\n\r\n", 4) + 4;
    if (chunked) {
        cr_assert_not_null(loopback_header(out, "Transfer-Encoding", &vlen), "%.300s", out);
        cr_assert_eq(loopback_dechunk(head_end, got - (size_t)(head_end - out), decoded, ECHO_SIZE),
                     (ssize_t)ECHO_SIZE);
    } else {
        cr_assert_eq(strtoull(loopback_header(out, "Content-Length", &vlen), NULL, 10), ECHO_SIZE);
        cr_assert_eq(got - (size_t)(head_end - out), ECHO_SIZE);
        memcpy(decoded, head_end, ECHO_SIZE);
    }
    cr_assert_eq(memcmp(decoded, body, ECHO_SIZE), 0, "the echo differs from what was sent");
    loopback_stop(&lb);
    free(body);
    free(req);
    free(out);
    free(decoded);
}

Test(exchange, ten_megabytes_echoed_as_they_arrive_chunked_both_ways, .timeout = 120)
{
    echo_ten_megabytes(true);
}

Test(exchange, ten_megabytes_echoed_as_they_arrive_with_content_length, .timeout = 120)
{
    echo_ten_megabytes(false);
}

/* ---- flush ---- */

/* Head and "abc" of a 10-byte body, flushed; the rest only once a byte
 * comes on the pipe at *arg, which the client writes when it saw "abc".
 * The wait is on the pipe alone, as a CGI handler waits on its script. */
static void flush_handler(struct http_exchange *x, void *arg)
{
    struct loop_watch pipe_w = {.fd = *(int *)arg};
    char c;

    if (loop_watch_add(x->loop, &pipe_w) < 0)
        return;
    http_resp_begin(x, 200);
    if (http_resp_stream(x, 10) == 0 && http_resp_write(x, "abc", 3) == 0 &&
        http_resp_flush(x) == 0 && co_read(&pipe_w, &c, 1, loop_now(x->loop) + WAIT_MS) == 1 &&
        http_resp_write(x, "defghij", 7) == 0)
        http_resp_finish(x);
    loop_watch_del(&pipe_w);
}

Test(exchange, a_flushed_head_and_three_bytes_reach_the_client_before_the_rest)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    struct loopback lb;
    char out[4096];
    size_t len = 0, vlen;
    int p[2];

    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    loopback_start(&lb, flush_handler, &p[0], NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\nabc"),
              "the flushed head and 3 bytes did not arrive: %s", out);
    cr_assert_eq(strtoul(loopback_header(out, "Content-Length", &vlen), NULL, 10), 10);
    cr_assert_null(strstr(out, "defg"), "the rest came before the pipe said so: %s", out);
    cr_assert_eq(write(p[1], "!", 1), 1);
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "abcdefghij"), "%s", out);
    loopback_stop(&lb);
    close(p[0]);
    close(p[1]);
}

/* ---- the body read after the head went out ---- */

static void body_after_head(size_t size)
{
    struct loopback lb;
    char head[128], want[64], *body = malloc(size), out[4096];
    size_t len = 0;
    int n = snprintf(head, sizeof head, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                     size);

    memset(body, 'q', size);
    loopback_start(&lb, echo_late_body, NULL, NULL);
    cr_assert(loopback_send(&lb, head, (size_t)n));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "started;"), "%s", out);
    cr_assert(loopback_send(&lb, body, size));
    /* got=N comes only when the body ended cleanly; then the last chunk. */
    snprintf(want, sizeof want, "got=%zu\r\n0\r\n\r\n", size);
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, want), "%zu bytes: %s", size, out);
    /* The connection persists: the next request is answered on it. */
    len = 0;
    cr_assert(loopback_send(&lb, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "got=0"), "%s", out);
    loopback_stop(&lb);
    free(body);
}

Test(exchange, a_body_of_10_bytes_is_read_after_the_head_went_out) { body_after_head(10); }

Test(exchange, a_body_of_60000_bytes_is_read_after_the_head_went_out) { body_after_head(60000); }

Test(exchange, a_body_of_70000_bytes_is_read_after_the_head_went_out) { body_after_head(70000); }

/* The same when the client sends head and body at once: nothing of a
 * small body buffered with the head is lost to the response's start. */
Test(exchange, a_body_sent_with_its_head_is_all_read_after_the_response_began)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789";
    struct loopback lb;
    char out[4096];
    size_t len = 0;

    loopback_start(&lb, echo_late_body, NULL, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "got=10\r\n0\r\n\r\n"), "%s", out);
    loopback_stop(&lb);
}

/* ---- per-request cleanups ---- */

struct watched {
    atomic_int cleanups;   /* cleanup calls */
    atomic_int returned;   /* the handler returned (before its cleanups ran) */
    atomic_int seen_order; /* returned was set when the cleanup ran */
    atomic_int last;       /* the last body read's result */
    atomic_int status;     /* http_body_status() after it */
    atomic_size_t got;
};

static void count_cleanup(void *arg)
{
    struct watched *w = arg;

    atomic_store(&w->seen_order, atomic_load(&w->returned));
    atomic_fetch_add(&w->cleanups, 1);
}

/* Reads the body to its end or failure with a cleanup registered. */
static void reading_handler(struct http_exchange *x, void *arg)
{
    struct watched *w = arg;
    const char *data;
    ssize_t n;

    cr_assert_eq(http_exchange_defer(x, count_cleanup, w), 0);
    while ((n = http_body_read(x, &data)) > 0)
        atomic_fetch_add(&w->got, (size_t)n);
    atomic_store(&w->last, (int)n);
    atomic_store(&w->status, http_body_status(x));
    if (n == 0 && http_resp_begin(x, 200) == 0)
        http_resp_body(x, "ok", 2);
    atomic_store(&w->returned, 1);
}

/* Waits (bounded) until *flag reaches want. */
static bool wait_for(atomic_int *flag, int want)
{
    for (int i = 0; i < 1000 && atomic_load(flag) < want; i++)
        usleep(10 * 1000);
    return atomic_load(flag) >= want;
}

Test(exchange, a_client_leaving_mid_body_ends_the_handler_with_its_cleanups)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
    struct http_limits limits = http_limits_default();
    struct watched w = {0};
    struct loopback lb;
    char part[1000];

    /* A body timeout far beyond the test's patience: only the close ends it. */
    limits.body_timeout_ms = 600000;
    memset(part, 'p', sizeof part);
    loopback_start(&lb, reading_handler, &w, &limits);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_send(&lb, part, sizeof part));
    for (int i = 0; i < 1000 && atomic_load(&w.got) < sizeof part; i++)
        usleep(10 * 1000);
    cr_assert_eq(atomic_load(&w.got), sizeof part);
    shutdown(lb.fd, SHUT_RDWR);
    cr_assert(wait_for(&w.cleanups, 1), "the handler did not end when the client left");
    cr_assert_eq(atomic_load(&w.last), -ECONNRESET);
    cr_assert_eq(atomic_load(&w.status), 0, "nobody to answer: no status");
    cr_assert_eq(atomic_load(&w.seen_order), 1, "cleanups run after the handler returned");
    loopback_stop(&lb);
    cr_assert_eq(atomic_load(&w.cleanups), 1, "once");
}

Test(exchange, cleanups_run_once_per_request_on_a_kept_connection)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    struct watched w = {0};
    struct loopback lb;
    char out[4096];
    size_t len = 0;

    loopback_start(&lb, reading_handler, &w, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\nok"), "%s", out);
    cr_assert(wait_for(&w.cleanups, 1));
    len = 0;
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\nok"), "%s", out);
    cr_assert(wait_for(&w.cleanups, 2));
    loopback_stop(&lb);
    cr_assert_eq(atomic_load(&w.cleanups), 2, "one per request, none left for the connection");
}

Test(exchange, cleanups_run_when_a_waiting_handler_is_cancelled)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc";
    struct http_limits limits = http_limits_default();
    struct watched w = {0};
    struct loopback lb;

    limits.body_timeout_ms = 600000;
    loopback_start(&lb, reading_handler, &w, &limits);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    for (int i = 0; i < 1000 && atomic_load(&w.got) < 3; i++)
        usleep(10 * 1000);
    cr_assert_eq(atomic_load(&w.got), 3, "the handler waits for the rest of the body");
    loopback_stop(&lb); /* the worker stops: the coroutine is cancelled */
    cr_assert_eq(atomic_load(&w.cleanups), 1);
    cr_assert_eq(atomic_load(&w.returned), 0, "the handler never returned");
}

/* ---- takeover after 101 ---- */

Test(exchange, after_101_the_handler_relays_both_ways_on_the_taken_socket)
{
    static const char req[] = "GET /t HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n"
                              "Upgrade: echo\r\n\r\nearly bytes|";
    struct loopback lb;
    char out[8192];
    size_t len = 0, vlen;

    loopback_start(&lb, echo_tunnel, NULL, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\nearly bytes|"), "%s", out);
    cr_assert_eq(strncmp(out, "HTTP/1.1 101 ", 13), 0, "%s", out);
    cr_assert_not_null(loopback_header(out, "Upgrade", &vlen), "%s", out);
    cr_assert_null(loopback_header(out, "Content-Length", &vlen), "%s", out);
    cr_assert_null(strstr(out, "close"), "no Connection: close on a 101: %s", out);
    cr_assert(loopback_send(&lb, "ping", 4));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "|ping"), "%s", out);
    cr_assert(loopback_send(&lb, "GET / HTTP/1.1\r\n\r\n", 18));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "|pingGET / HTTP/1.1\r\n\r\n"),
              "an HTTP request in the tunnel is tunnel data: %s", out);
    shutdown(lb.fd, SHUT_WR);
    loopback_read_to_end(&lb, out, sizeof out, &len);
    cr_assert_null(strstr(strstr(out, "|ping"), "HTTP/1.1 "),
                   "nothing of HTTP follows the tunnel: %s", out);
    loopback_stop(&lb);
}

/* The same with two coroutines on the taken socket, as a relay to a child
 * process is built: a helper reads the client into a pipe (upper-cased),
 * while the handler reads the pipe and writes the client. */
struct pipe_relay {
    struct loop *loop;
    struct http_takeover t;
    struct loop_watch in, out; /* the pipe's write and read ends */
};

static void upcase(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'a' && p[i] <= 'z')
            p[i] = (char)(p[i] - 'a' + 'A');
}

/* The client into the pipe until the client closes; then the pipe closes. */
static void client_to_pipe(struct coro *co, void *arg)
{
    struct pipe_relay *pr = arg;
    char buf[4096];
    size_t n = pr->t.buffered_len < sizeof buf ? pr->t.buffered_len : sizeof buf;
    ssize_t got;

    (void)co;
    memcpy(buf, pr->t.buffered, n);
    got = (ssize_t)n;
    do {
        upcase(buf, (size_t)got);
        if (co_write(&pr->in, buf, (size_t)got, loop_now(pr->loop) + WAIT_MS) < 0)
            break;
    } while ((got = co_read(pr->t.client, buf, sizeof buf, loop_now(pr->loop) + WAIT_MS)) > 0);
    loop_watch_del(&pr->in);
    close(pr->in.fd);
}

static void two_coroutine_tunnel(struct http_exchange *x, void *arg)
{
    struct pipe_relay pr = {.loop = x->loop};
    char buf[4096];
    ssize_t n;
    int p[2];

    (void)arg;
    if (http_resp_begin(x, 101) < 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return;
    http_resp_header(x, "Upgrade", 7, "upcase", 6);
    http_resp_header(x, "Connection", 10, "upgrade", 7);
    pr.out.fd = p[0];
    pr.in.fd = p[1];
    if (http_resp_takeover(x, &pr.t) < 0 || loop_watch_add(x->loop, &pr.out) < 0 ||
        loop_watch_add(x->loop, &pr.in) < 0)
        return;
    loop_spawn(x->loop, client_to_pipe, &pr);
    /* The pipe ends after the helper is done: it closes it last. */
    while ((n = co_read(&pr.out, buf, sizeof buf, loop_now(x->loop) + WAIT_MS)) > 0)
        if (co_write(pr.t.client, buf, (size_t)n, loop_now(x->loop) + WAIT_MS) < 0)
            break;
    loop_watch_del(&pr.out);
    close(p[0]);
}

Test(exchange, after_101_a_reader_and_a_writer_coroutine_share_the_taken_socket)
{
    static const char req[] = "GET /t HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n"
                              "Upgrade: upcase\r\n\r\nfirst|";
    struct loopback lb;
    char out[8192];
    size_t len = 0;

    loopback_start(&lb, two_coroutine_tunnel, NULL, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\nFIRST|"), "%s", out);
    for (int i = 0; i < 20; i++) {
        char want[32];

        snprintf(want, sizeof want, "|round %d", i);
        cr_assert(loopback_send(&lb, want, strlen(want)));
        upcase(want, strlen(want));
        cr_assert(loopback_read_until(&lb, out, sizeof out, &len, want), "%s", out);
    }
    shutdown(lb.fd, SHUT_WR);
    loopback_read_to_end(&lb, out, sizeof out, &len);
    cr_assert(len > 10 && memcmp(out + len - 9, "|ROUND 19", 9) == 0, "%s", out);
    loopback_stop(&lb);
}

/* ---- waiting with a head begun ---- */

/* Begins a head, waits for the body, then makes the head too large: the
 * engine must still be able to replace it with a 500. */
static void head_then_wait(struct http_exchange *x, void *arg)
{
    static char huge[20000];
    const char *data;

    (void)arg;
    http_resp_begin(x, 200);
    http_resp_header(x, "X-First", 7, "1", 1);
    cr_assert_eq(http_poll(x, LOOP_WRITE, NULL, NULL, 0, loop_now(x->loop) + WAIT_MS), -EINVAL);
    if (http_poll(x, LOOP_READ, NULL, NULL, 0, loop_now(x->loop) + WAIT_MS) != 1)
        return;
    while (http_body_read(x, &data) > 0)
        ;
    memset(huge, 'h', sizeof huge);
    http_resp_header(x, "X-Huge", 6, huge, sizeof huge); /* does not fit */
}

Test(exchange, a_head_being_built_stays_queued_while_the_handler_waits)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
    struct loopback lb;
    char out[4096];
    size_t len = 0;

    loopback_start(&lb, head_then_wait, NULL, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_send(&lb, "hello", 5));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\n"), "%s", out);
    cr_assert_eq(strncmp(out, "HTTP/1.1 500 ", 13), 0, "a clean 500, nothing of the head: %s", out);
    cr_assert_null(strstr(out, "X-First"), "%s", out);
    loopback_stop(&lb);
}

Test(exchange, the_echo_answers_100_continue_before_its_response)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                              "Content-Length: 6\r\n\r\n";
    struct loopback lb;
    char out[4096];
    size_t len = 0;

    loopback_start(&lb, echo_stream, NULL, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "HTTP/1.1 100 Continue\r\n\r\n"),
              "%s", out);
    cr_assert_eq(strncmp(out, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0, "%s", out);
    cr_assert(loopback_send(&lb, "echo!\n", 6));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\necho!\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\n\r\nHTTP/1.1 200 OK\r\n"), "%s", out);
    loopback_stop(&lb);
}

/* ---- one error convention: -errno, and the status apart ---- */

struct body_fail {
    const char *req;
    struct http_limits limits;
    int want_rc, want_status;
    atomic_int rc, status;
};

/* Reads the body; a failure is answered with the status it deserves. */
static void failing_body_handler(struct http_exchange *x, void *arg)
{
    struct body_fail *bf = arg;
    const char *data;
    ssize_t n;

    while ((n = http_body_read(x, &data)) > 0)
        ;
    atomic_store(&bf->rc, (int)n);
    atomic_store(&bf->status, http_body_status(x));
    if (n < 0 && http_body_status(x))
        http_resp_error(x, http_body_status(x), NULL);
    else if (http_resp_begin(x, 200) == 0)
        http_resp_body(x, "read\n", 5);
}

Test(exchange, body_failures_are_errno_with_the_status_apart)
{
    struct body_fail cases[] = {
        {.req = "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         .want_rc = -EBADMSG,
         .want_status = 400},
        {.req = "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n",
         .want_rc = -EFBIG,
         .want_status = 413},
        {.req = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
         .want_rc = -ETIMEDOUT,
         .want_status = 408},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct body_fail *bf = &cases[i];
        struct loopback lb;
        char out[4096], want[16];
        size_t len = 0;

        bf->limits = http_limits_default();
        bf->limits.max_body_size = 32;
        bf->limits.body_timeout_ms = 200;
        loopback_start(&lb, failing_body_handler, bf, &bf->limits);
        cr_assert(loopback_send(&lb, bf->req, strlen(bf->req)));
        snprintf(want, sizeof want, "HTTP/1.1 %d ", bf->want_status);
        cr_assert(loopback_read_until(&lb, out, sizeof out, &len, want), "case %zu: %s", i, out);
        cr_assert_eq(atomic_load(&bf->rc), bf->want_rc, "case %zu", i);
        cr_assert_eq(atomic_load(&bf->status), bf->want_status, "case %zu", i);
        loopback_stop(&lb);
    }
}

/* ---- one deadline over the client and another descriptor ---- */

struct poll_case {
    int pipe_r;
    atomic_int first, second, third;
};

/* Waits on the client (body) and a pipe together, three times. */
static void poll_handler(struct http_exchange *x, void *arg)
{
    struct poll_case *pc = arg;
    struct loop_watch pipe_w = {.fd = pc->pipe_r};
    struct loop_watch *ws[1] = {&pipe_w};
    uint32_t ev[1] = {LOOP_READ};
    const char *data;
    char c;

    if (loop_watch_add(x->loop, &pipe_w) < 0)
        return;
    pipe_w.ready = 0;
    /* Nothing yet from either: the deadline. */
    atomic_store(&pc->first, http_poll(x, LOOP_READ, ws, ev, 1, loop_now(x->loop) + 50));
    http_resp_begin(x, 200);
    if (http_resp_stream(x, -1) == 0 && http_resp_write(x, "waiting;", 8) == 0 &&
        http_resp_flush(x) == 0) {
        atomic_store(&pc->second, http_poll(x, LOOP_READ, ws, ev, 1, loop_now(x->loop) + WAIT_MS));
        if (read(pc->pipe_r, &c, 1) == 1)
            pipe_w.ready = 0;
        http_resp_write(x, "pipe;", 5);
        http_resp_flush(x);
        atomic_store(&pc->third, http_poll(x, LOOP_READ, ws, ev, 1, loop_now(x->loop) + WAIT_MS));
        if (http_body_read(x, &data) > 0)
            http_resp_write(x, "body;", 5);
        http_resp_finish(x);
    }
    loop_watch_del(&pipe_w);
}

Test(exchange, http_poll_waits_on_the_client_and_a_pipe_under_one_deadline)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n";
    struct poll_case pc = {0};
    struct loopback lb;
    char out[4096];
    size_t len = 0;
    int p[2];

    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    pc.pipe_r = p[0];
    loopback_start(&lb, poll_handler, &pc, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "waiting;"), "%s", out);
    cr_assert_eq(atomic_load(&pc.first), -ETIMEDOUT);
    cr_assert_eq(write(p[1], "p", 1), 1);
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "pipe;"), "%s", out);
    cr_assert_eq(atomic_load(&pc.second), 1 << 1, "the pipe, not the client");
    cr_assert(loopback_send(&lb, "b", 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "body;"), "%s", out);
    cr_assert_eq(atomic_load(&pc.third), 1 << 0, "the client, not the drained pipe");
    loopback_stop(&lb);
    close(p[0]);
    close(p[1]);
}

/* ---- interim responses ---- */

/* Status lines in out. */
static int response_count_of(const char *out)
{
    int n = 0;

    for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++)
        n++;
    return n;
}

/* What http_resp_interim answered, in call order. */
struct interim_calls {
    atomic_int rc[6];
};

/* A 103 with two Link lines, a 100 (sent only when asked for), then the
 * refused ones: 101, a 199 with a bare LF, and one after the final head. */
static void early_hints(struct http_exchange *x, void *arg)
{
    static const char links[] = "Link: </a.css>; rel=preload\r\nLink: </b.js>; rel=preload\r\n";
    struct interim_calls *c = arg;

    atomic_store(&c->rc[0], http_resp_interim(x, 103, links, sizeof links - 1));
    atomic_store(&c->rc[1], http_resp_interim(x, 100, NULL, 0));
    atomic_store(&c->rc[2], http_resp_interim(x, 101, NULL, 0));
    atomic_store(&c->rc[3], http_resp_interim(x, 199, "X: a\nY: b\r\n", 11));
    http_resp_begin(x, 200);
    atomic_store(&c->rc[4], http_resp_interim(x, 103, NULL, 0));
    http_resp_body(x, "ok", 2);
}

Test(exchange, interim_responses_go_out_before_the_final_one)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char want[] = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n"
                               "Link: </b.js>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n";
    struct interim_calls c = {0};
    struct loopback lb;
    char out[4096];
    size_t len = 0;

    loopback_start(&lb, early_hints, &c, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\nok"), "%s", out);
    cr_assert_eq(strncmp(out, want, sizeof want - 1), 0, "%s", out);
    cr_assert_null(strstr(out, "100 Continue"), "no 100 the client did not ask for: %s", out);
    cr_assert_eq(response_count_of(out), 2, "%s", out);
    loopback_stop(&lb);
    cr_assert_eq(atomic_load(&c.rc[0]), 0);
    cr_assert_eq(atomic_load(&c.rc[1]), 0, "a 100 not asked for is dropped, not an error");
    cr_assert_eq(atomic_load(&c.rc[2]), -EINVAL, "101 goes through the takeover only");
    cr_assert_eq(atomic_load(&c.rc[3]), -EINVAL, "a bare LF in the lines");
    cr_assert_eq(atomic_load(&c.rc[4]), -EINVAL, "after the final head began");
}

Test(exchange, an_http_1_0_client_gets_no_interim_response)
{
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    struct interim_calls c = {0};
    struct loopback lb;
    char out[4096];
    size_t len = 0;

    loopback_start(&lb, early_hints, &c, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    loopback_read_to_end(&lb, out, sizeof out, &len);
    cr_assert_eq(strncmp(out, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", out);
    cr_assert_eq(response_count_of(out), 1, "%s", out);
    loopback_stop(&lb);
    cr_assert_eq(atomic_load(&c.rc[0]), 0, "dropped, not an error");
}

Test(exchange, an_interim_100_is_sent_once_when_the_client_expects_it)
{
    static const char req[] = "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                              "Content-Length: 6\r\n\r\n";
    struct interim_calls c = {0};
    struct loopback lb;
    char out[4096];
    size_t len = 0;

    loopback_start(&lb, early_hints, &c, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "HTTP/1.1 100 Continue\r\n\r\n"),
              "%s", out);
    cr_assert(loopback_send(&lb, "hello\n", 6));
    cr_assert(loopback_read_until(&lb, out, sizeof out, &len, "\r\n\r\nok"), "%s", out);
    cr_assert_eq(response_count_of(out), 3, "103, 100, 200 and no second 100: %s", out);
    loopback_stop(&lb);
}
