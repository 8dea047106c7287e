/* Integration: the test build's echo kind streaming both ways through the real daemon: 10 MB
 * echoed as they arrive, a flushed head, a body read after the head, a client leaving mid-body,
 * takeover after 101. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

/* How long a test waits for what it caused (bounded, generous on a loaded machine). */
#define WAIT_MS 20000

#define TEN_MB (10u * 1024 * 1024)

static struct daemon d;

/* body_timeout far beyond any wait here: only what a client does ends a
 * body. /echo/flush3 holds the rest of its answer until a byte comes on
 * the FIFO dir/www/hold.fifo, which the test makes. */
static void start(void)
{
    daemon_start_bin(&d, cohttpd_test_bin(),
                     "[limits]\nbody_timeout = 10m\n[echo /echo]\nhold_fifo = %ROOT%/hold.fifo\n");
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

TestSuite(echo_stream, .init = start, .fini = stop, .timeout = 300);

/* len pseudo-random bytes (xorshift), malloc'd. */
static unsigned char *random_bytes(size_t len, uint32_t seed)
{
    unsigned char *p = malloc(len);

    cr_assert_not_null(p);
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        p[i] = (unsigned char)seed;
    }
    return p;
}

/* A connection whose reads and writes give up after WAIT_MS. */
static int connect_patient(void)
{
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    int fd = tcp_connect(d.port);

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads from fd, appending to out[*len..cap) (kept NUL-terminated), until
 * out holds needle, the server closes, or WAIT_MS pass without a byte.
 * True when needle is there. */
static bool read_until(int fd, char *out, size_t cap, size_t *len, const char *needle)
{
    size_t nlen = strlen(needle);

    while (!memmem(out, *len, needle, nlen)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (*len + 1 >= cap || poll(&pfd, 1, WAIT_MS) <= 0)
            return false;
        r = recv(fd, out + *len, cap - 1 - *len, 0);
        if (r <= 0)
            return false;
        *len += (size_t)r;
        out[*len] = '\0';
    }
    return true;
}

/* Reads exactly n bytes (true), or false when the server closes or stalls. */
static bool read_exactly(int fd, unsigned char *out, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = recv(fd, out + got, n - got, 0);

        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* The descriptors the daemon holds open (/proc/PID/fd). */
static int open_fds(pid_t pid)
{
    char path[64];
    struct dirent *e;
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    dir = opendir(path);
    cr_assert_not_null(dir, "%s", path);
    while ((e = readdir(dir)))
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

/* ---- 10 MB streamed back as they arrive ---- */

/* curl uploads in.bin (chunked when asked) to /echo/stream; the body that
 * comes back must be the same bytes, framed as the request was. */
static void curl_echo_ten_megabytes(bool chunked)
{
    char in[600], out[600], head[600], text[4096], value[64];
    unsigned char *body = random_bytes(TEN_MB, chunked ? 7 : 11);
    char *got, *final;
    FILE *f;

    snprintf(in, sizeof in, "%s/in.bin", d.dir);
    snprintf(out, sizeof out, "%s/out.bin", d.dir);
    snprintf(head, sizeof head, "%s/head.txt", d.dir);
    f = fopen(in, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(body, 1, TEN_MB, f), TEN_MB);
    cr_assert_eq(fclose(f), 0);
    free(body);
    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS --max-time 240 --data-binary @'%s' %s -D '%s' -o '%s' "
                         "-w '%%{http_code}' http://127.0.0.1:%u/echo/stream 2>&1",
                         in, chunked ? "-H 'Transfer-Encoding: chunked'" : "", head, out, d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, "200");
    got = file_slurp(head);
    /* curl asks for 100 Continue on a body this large: the 200 head follows it. */
    final = strstr(got, "HTTP/1.1 200 ");
    cr_assert_not_null(final, "%s", got);
    if (chunked) {
        cr_assert_not_null(response_header(final, "Transfer-Encoding", value, sizeof value), "%s",
                           got);
        cr_assert_str_eq(value, "chunked", "%s", got);
    } else {
        cr_assert_not_null(response_header(final, "Content-Length", value, sizeof value), "%s",
                           got);
        cr_assert_eq(strtoul(value, NULL, 10), TEN_MB, "%s", got);
    }
    free(got);
    cr_assert_eq(run_cmd(text, sizeof text, "cmp '%s' '%s' 2>&1", in, out), 0,
                 "the body came back changed: %s", text);
}

Test(echo_stream, ten_megabytes_come_back_chunked_both_ways) { curl_echo_ten_megabytes(true); }

Test(echo_stream, ten_megabytes_come_back_with_content_length_both_ways)
{
    curl_echo_ten_megabytes(false);
}

/* Lockstep on a raw socket: each 64 KiB sent comes back before the next is
 * sent, so the handler relays what arrived without waiting for the rest. */
Test(echo_stream, each_piece_comes_back_before_the_next_is_sent)
{
    enum { PIECE = 64 * 1024 };
    unsigned char *body = random_bytes(TEN_MB, 23), *back = malloc(PIECE);
    char head[8192], req[128], value[64];
    size_t len = 0;
    int fd = connect_patient();
    int n = snprintf(req, sizeof req,
                     "PUT /echo/stream HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n\r\n", TEN_MB);

    cr_assert_not_null(back);
    cr_assert(tcp_send_all(fd, req, (size_t)n));
    cr_assert(tcp_send_all(fd, body, PIECE));
    /* The head, byte by byte, so that no body byte is read with it. */
    while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
        cr_assert_lt(len, sizeof head - 1, "no end of head: %.*s", (int)len, head);
        cr_assert_eq(recv(fd, head + len, 1, 0), 1, "the head did not come: %.*s", (int)len, head);
        head[++len] = '\0';
    }
    cr_assert_eq(response_status(head), 200, "%s", head);
    cr_assert_not_null(response_header(head, "Content-Length", value, sizeof value), "%s", head);
    cr_assert_eq(strtoul(value, NULL, 10), TEN_MB);
    for (size_t off = 0; off < TEN_MB; off += PIECE) {
        if (off > 0)
            cr_assert(tcp_send_all(fd, body + off, PIECE), "at %zu", off);
        cr_assert(read_exactly(fd, back, PIECE), "piece at %zu did not come back", off);
        cr_assert_eq(memcmp(back, body + off, PIECE), 0, "piece at %zu came back changed", off);
    }
    close(fd);
    free(back);
    free(body);
}

/* ---- a flushed head ---- */

Test(echo_stream, a_flushed_head_and_three_bytes_come_before_the_rest)
{
    static const char req[] = "GET /echo/flush3 HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[4096], value[64], fifo[400];
    size_t len = 0;
    int fd = connect_patient(), hold;

    snprintf(fifo, sizeof fifo, "%s/hold.fifo", d.root);
    cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo %s: %s", fifo, strerror(errno));
    /* Read-write: it never blocks, and the byte waits in it for the handler. */
    hold = open(fifo, O_RDWR | O_CLOEXEC);
    cr_assert_geq(hold, 0);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    cr_assert(read_until(fd, out, sizeof out, &len, "\r\n\r\nabc"),
              "the flushed head and 3 bytes did not arrive: %s", out);
    /* The handler sends the rest only after the byte below: this is all. */
    cr_assert_eq(strcmp(out + len - 7, "\r\n\r\nabc"), 0, "%s", out);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert_not_null(response_header(out, "Content-Length", value, sizeof value), "%s", out);
    cr_assert_str_eq(value, "10");
    cr_assert_eq(write(hold, "!", 1), 1);
    cr_assert(read_until(fd, out, sizeof out, &len, "\r\n\r\nabcdefghij"), "%s", out);
    close(hold);
    close(fd);
}

/* ---- the body read after the head went out ---- */

static void body_after_head(size_t size)
{
    unsigned char *body = random_bytes(size, (uint32_t)size);
    char req[128], want[64], out[4096];
    size_t len = 0;
    int fd = connect_patient();
    int n =
        snprintf(req, sizeof req,
                 "PUT /echo/late-body HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", size);

    cr_assert(tcp_send_all(fd, req, (size_t)n));
    cr_assert(read_until(fd, out, sizeof out, &len, "started;"),
              "the head did not come before the body was sent: %s", out);
    cr_assert(strstr(out, "Transfer-Encoding: chunked") != NULL, "%s", out);
    cr_assert(tcp_send_all(fd, body, size));
    /* got=N comes only when the body ended cleanly, then the last chunk. */
    snprintf(want, sizeof want, "got=%zu\r\n0\r\n\r\n", size);
    cr_assert(read_until(fd, out, sizeof out, &len, want), "%zu bytes: %s", size, out);
    /* The connection persists: the next request is answered on it. */
    len = 0;
    cr_assert(tcp_send_all(fd, "GET /echo/late-body HTTP/1.1\r\nHost: x\r\n\r\n", 41));
    cr_assert(read_until(fd, out, sizeof out, &len, "got=0\r\n0\r\n\r\n"), "%s", out);
    close(fd);
    free(body);
}

Test(echo_stream, a_body_of_10_bytes_is_read_after_the_head_went_out) { body_after_head(10); }

Test(echo_stream, a_body_of_60000_bytes_is_read_after_the_head_went_out) { body_after_head(60000); }

Test(echo_stream, a_body_of_70000_bytes_is_read_after_the_head_went_out) { body_after_head(70000); }

/* ---- a client leaving mid-body ---- */

Test(echo_stream, a_client_leaving_mid_body_ends_the_handler_with_its_cleanups)
{
    static const char req[] =
        "PUT /echo/stream HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
    unsigned char *part = random_bytes(1000, 5);
    char out[8192], text[256];
    size_t len = 0;
    int before = open_fds(d.pid), after = -1, fd = connect_patient();
    char *log;

    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    cr_assert(tcp_send_all(fd, part, 1000));
    cr_assert(read_until(fd, out, sizeof out, &len, "\r\n\r\n"), "%s", out);
    /* The head and the 1000 bytes back: the handler is mid-body. */
    while (len < (size_t)(strstr(out, "\r\n\r\n") + 4 - out) + 1000) {
        ssize_t r = recv(fd, out + len, sizeof out - 1 - len, 0);

        cr_assert_gt(r, 0, "the first 1000 bytes did not come back");
        len += (size_t)r;
    }
    log = file_slurp(d.log);
    cr_assert_null(strstr(log, "echo: stream request cleaned up"), "too early: %s", log);
    free(log);
    close(fd);
    cr_assert(file_wait_for(d.log, "echo: stream request cleaned up", WAIT_MS),
              "no cleanup after the client left: %s", file_slurp(d.log));
    for (int i = 0; i < WAIT_MS / 10 && (after = open_fds(d.pid)) != before; i++)
        usleep(10 * 1000);
    cr_assert_eq(after, before, "descriptors: %d before the connection, %d after it closed", before,
                 after);
    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS --max-time 60 --data-binary 'still here' "
                         "http://127.0.0.1:%u/echo/x 2>&1",
                         d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, "still here", "the daemon stopped serving");
    free(part);
}

/* ---- takeover after 101 ---- */

Test(echo_stream, after_101_bytes_are_relayed_both_ways_until_the_client_closes)
{
    static const char req[] = "GET /echo/upgrade HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n"
                              "Upgrade: echo\r\n\r\nearly bytes|";
    unsigned char *data = random_bytes(100000, 3), *back = malloc(100000);
    char out[8192], value[64];
    size_t len = 0;
    int fd = connect_patient();

    cr_assert_not_null(back);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    cr_assert(read_until(fd, out, sizeof out, &len, "\r\n\r\nearly bytes|"), "%s", out);
    cr_assert_eq(response_status(out), 101, "%s", out);
    cr_assert_not_null(response_header(out, "Upgrade", value, sizeof value), "%s", out);
    cr_assert_str_eq(value, "echo");
    cr_assert_null(response_header(out, "Content-Length", value, sizeof value), "%s", out);
    cr_assert(tcp_send_all(fd, "ping", 4));
    cr_assert(read_until(fd, out, sizeof out, &len, "early bytes|ping"), "%s", out);
    cr_assert(tcp_send_all(fd, data, 100000));
    cr_assert(read_exactly(fd, back, 100000), "the tunnel did not echo 100000 bytes");
    cr_assert_eq(memcmp(back, data, 100000), 0, "the tunnel changed the bytes");
    shutdown(fd, SHUT_WR);
    cr_assert(wait_closed(fd, WAIT_MS), "the daemon kept the connection after the handler ended");
    close(fd);
    cr_assert(file_wait_for(d.log, "echo: upgrade request cleaned up", WAIT_MS), "%s",
              file_slurp(d.log));
    free(back);
    free(data);
}
