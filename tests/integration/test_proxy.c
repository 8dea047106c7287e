/* Integration: the proxy route kind against fake upstreams that answer well or badly. */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

static struct daemon d;
static struct fake up, up2;
static pid_t python_pid;

static void fini(void)
{
    daemon_kill(&d);
    if (python_pid > 0) {
        kill(python_pid, SIGKILL);
        waitpid(python_pid, NULL, 0);
    }
    fake_kill(&up);
    fake_kill(&up2);
}

TestSuite(proxy, .fini = fini);

/* Starts the daemon, one worker, with [proxy /api/] to upstreams (a
 * space-separated list) plus extra keys. */
static void start_proxy(const char *upstreams, const char *extra)
{
    char ini[2048];

    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n"
             "[proxy /api/]\nupstream = %s\n%s",
             upstreams, extra);
    daemon_start(&d, ini);
}

static void start_one(enum fake_mode mode, const char *extra)
{
    char addr[64];

    fake_start(&up, mode);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", up.port);
    start_proxy(addr, extra);
}

/* curl on path: returns the status, the body in out (up to cap). */
static int curl_get(const char *opts, const char *path, char *out, size_t cap)
{
    char cmd_out[256], file[400];
    char *body;
    int rc;

    snprintf(file, sizeof file, "%s/body.out", d.dir);
    unlink(file);
    rc = run_cmd(cmd_out, sizeof cmd_out,
                 "curl -sS %s -o '%s' -w '%%{http_code}' 'http://127.0.0.1:%u%s'", opts, file,
                 d.port, path);
    body = file_slurp(file);
    snprintf(out, cap, "%s", body);
    free(body);
    return rc == 0 ? atoi(cmd_out) : -rc;
}

/* The daemon's stderr, for failure messages. */
static char *daemon_log(void) { return file_slurp(d.log); }

Test(proxy, keep_alive_connections_are_reused_across_client_connections)
{
    char body[256];

    start_one(FAKE_OK, "keepalive_timeout = 60s\n" /* a slow machine must not expire it */);
    for (int i = 1; i <= 5; i++) {
        char want[64];

        snprintf(want, sizeof want, "conn=1 req=%d\n", i);
        cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "%s", daemon_log());
        cr_assert_str_eq(body, want, "request %d: %s\n%s", i, body, daemon_log());
    }
    cr_assert_eq(atomic_load(&up.accepted), 1, "one upstream connection for five requests");
}

Test(proxy, the_request_is_rebuilt_with_forwarding_headers)
{
    char body[8192], host[128];

    start_one(FAKE_HEADERS, "");
    cr_assert_eq(curl_get("-H 'Connection: X-Drop, keep-alive' -H 'X-Drop: 1' -H 'X-Keep: 2' "
                          "-H 'Keep-Alive: 5' -H 'TE: trailers' -H 'X-Forwarded-For: 6.6.6.6' "
                          "-H 'Forwarded: for=6.6.6.6' -H 'Host: site.example'",
                          "/api/a%41b?q=1", body, sizeof body),
                 200, "%s", daemon_log());
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%u\r\n", up.port);
    cr_assert(strncmp(body, "GET /api/a%41b?q=1 HTTP/1.1\r\n", 29) == 0, "%s", body);
    cr_assert(strstr(body, host), "the upstream's Host: %s", body);
    cr_assert(strstr(body, "\r\nX-Keep: 2\r\n"), "%s", body);
    cr_assert(strstr(body, "\r\nX-Forwarded-For: 127.0.0.1\r\n"), "%s", body);
    cr_assert(strstr(body, "\r\nX-Forwarded-Proto: http\r\n"), "%s", body);
    cr_assert(strstr(body, "\r\nX-Forwarded-Host: site.example\r\n"), "%s", body);
    cr_assert(strstr(body, "\r\nForwarded: for=127.0.0.1;host=\"site.example\";proto=http\r\n"),
              "%s", body);
    cr_assert_null(strstr(body, "6.6.6.6"), "the client's forwarding headers are replaced: %s",
                   body);
    cr_assert_null(strstr(body, "X-Drop"), "a header named in Connection is dropped: %s", body);
    cr_assert_null(strstr(body, "Keep-Alive"), "%s", body);
    cr_assert_null(strstr(body, "TE:"), "%s", body);
    cr_assert_null(strstr(body, "Connection"), "%s", body);
}

Test(proxy, an_ipv6_client_is_named_in_the_forwarding_headers)
{
    char ini[512], out[8192];
    char *log;
    const char *v6;
    unsigned port;

    fake_start(&up, FAKE_HEADERS);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nlisten = [::1]:0\nworkers = 1\n"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\n",
             up.port);
    daemon_start(&d, ini);
    log = daemon_log();
    v6 = strstr(log, "[::1]:");
    port = v6 ? (unsigned)strtoul(v6 + 6, NULL, 10) : 0;
    cr_assert_gt(port, 0, "no [::1] listener in:\n%s", log);
    free(log);
    cr_assert_eq(
        run_cmd(out, sizeof out, "curl -sS -g -H 'Host: v6.example' 'http://[::1]:%u/api/x'", port),
        0, "%s", out);
    cr_assert(strstr(out, "\r\nX-Forwarded-For: ::1\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nForwarded: for=\"[::1]\";host=\"v6.example\";proto=http\r\n"), "%s",
              out);
}

Test(proxy, strip_prefix_and_preserve_host)
{
    char body[8192];

    start_one(FAKE_HEADERS, "strip_prefix = on\npreserve_host = on\n");
    cr_assert_eq(curl_get("-H 'Host: site.example'", "/api/v1/x?y=%41", body, sizeof body), 200,
                 "%s", daemon_log());
    cr_assert(strncmp(body, "GET /v1/x?y=%41 HTTP/1.1\r\n", 26) == 0, "%s", body);
    cr_assert(strstr(body, "\r\nHost: site.example\r\n"), "%s", body);
}

Test(proxy, a_silent_upstream_is_504)
{
    char body[1024];
    char *log;

    start_one(FAKE_HANG, "read_timeout = 1s\n");
    cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 504, "%s", daemon_log());
    cr_assert(file_wait_for(d.log, "read_timeout", HARNESS_WAIT_MS), "the log names the timeout");
    log = daemon_log();
    cr_assert(strstr(log, "upstream 127.0.0.1:"), "%s", log);
    free(log);
}

Test(proxy, an_upstream_that_closes_mid_body_cuts_the_client)
{
    char body[1024], out[256], file[400];
    int rc;

    start_one(FAKE_CUT, "");
    snprintf(file, sizeof file, "%s/cut.out", d.dir);
    rc = run_cmd(out, sizeof out,
                 "curl -sS -o '%s' -w '%%{http_code} %%{size_download}' "
                 "'http://127.0.0.1:%u/api/x' 2>/dev/null",
                 file, d.port);
    cr_assert_eq(rc, 18, "curl sees a partial transfer (exit 18), not a complete one: %d %s", rc,
                 out);
    cr_assert(strncmp(out, "200 ", 4) == 0, "%s", out);
    cr_assert_lt(atoi(out + 4), 100000, "%s", out);
    (void)body;
}

Test(proxy, a_chunked_body_cut_short_cuts_the_client)
{
    char out[256];
    int rc;

    start_one(FAKE_CUT_CHUNK, "");
    rc = run_cmd(out, sizeof out,
                 "curl -sS -o /dev/null -w '%%{http_code}' "
                 "'http://127.0.0.1:%u/api/x' 2>/dev/null",
                 d.port);
    cr_assert_eq(rc, 18, "curl sees a partial transfer (exit 18): %d %s", rc, out);
}

/* A response framed two ways, or with two lengths, is a 502 naming the upstream. */
static void expect_502(enum fake_mode mode, const char *why)
{
    char body[1024], name[64];
    char *log;

    start_one(mode, "");
    cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 502, "%s", daemon_log());
    snprintf(name, sizeof name, "upstream 127.0.0.1:%u", up.port);
    cr_assert(file_wait_for(d.log, why, HARNESS_WAIT_MS), "the log says why");
    log = daemon_log();
    cr_assert(strstr(log, name), "%s", log);
    free(log);
}

Test(proxy, content_length_with_transfer_encoding_is_502)
{
    expect_502(FAKE_CLTE, "Transfer-Encoding");
}

Test(proxy, two_content_lengths_are_502) { expect_502(FAKE_TWO_CL, "Content-Length"); }

/* curl -i on path (extra curl options in opts): the whole response in out. */
static void curl_head_and_body(const char *opts, const char *path, char *out, size_t cap)
{
    cr_assert_eq(run_cmd(out, cap, "curl -sS -i %s 'http://127.0.0.1:%u%s'", opts, d.port, path), 0,
                 "%s", out);
}

Test(proxy, the_head_goes_on_with_its_reason_but_not_its_hop_by_hop_headers)
{
    char out[4096], v[256];

    start_one(FAKE_HOP_HEAD, "");
    for (int i = 0; i < 2; i++) {
        curl_head_and_body(i ? "-I" : "", "/api/x", out, sizeof out);
        cr_assert(strncmp(out, "HTTP/1.1 203 Fine By Me\r\n", 25) == 0, "%s", out);
        cr_assert_not_null(response_header(out, "X-Kept", v, sizeof v), "%s", out);
        cr_assert_str_eq(v, "yes", "%s", out);
        cr_assert_null(response_header(out, "X-Hop", v, sizeof v), "%s", out);
        cr_assert_null(response_header(out, "Keep-Alive", v, sizeof v), "%s", out);
        cr_assert_not_null(response_header(out, "Server", v, sizeof v), "%s", out);
        cr_assert_null(strstr(v, "fake-upstream"), "the server names itself: %s", out);
        cr_assert_not_null(response_header(out, "Date", v, sizeof v), "%s", out);
        cr_assert_null(strstr(v, "1970"), "the date is the server's own: %s", out);
        cr_assert_not_null(response_header(out, "Content-Length", v, sizeof v), "%s", out);
        cr_assert_str_eq(v, "5", "%s", out);
        cr_assert_eq(strstr(out, "\r\n\r\nhello") != NULL, i == 0, "a body for GET only: %s", out);
    }
}

Test(proxy, a_long_response_head_goes_through_and_an_oversized_one_is_502)
{
    static char out[65536];
    char v[32], *big;

    start_one(FAKE_BIG_HEAD, "");
    curl_head_and_body("", "/api/head/12000", out, sizeof out);
    cr_assert_eq(response_status(out), 200, "%.300s", out);
    big = strstr(out, "\r\nX-Big: ");
    cr_assert_not_null(big, "%.300s", out);
    cr_assert_eq(strspn(big + 9, "h"), 12000, "the header arrives whole: %.300s", big);
    cr_assert(strncmp(big + 9 + 12000, "\r\n", 2) == 0);
    cr_assert_not_null(response_header(out, "Content-Length", v, sizeof v), "%.300s", out);
    cr_assert_str_eq(v, "2");
    cr_assert_not_null(strstr(out, "\r\n\r\nok"), "%.300s", out);
    cr_assert_eq(curl_get("", "/api/head/17000", out, sizeof out), 502, "%s", daemon_log());
    cr_assert(file_wait_for(d.log, "the response head is over 16384 bytes", HARNESS_WAIT_MS),
              "the log says why: %s", daemon_log());
}

Test(proxy, interim_responses_do_not_end_the_exchange)
{
    char body[64];

    start_one(FAKE_INTERIM, "");
    cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "%s", daemon_log());
    cr_assert_str_eq(body, "ok");
}

Test(proxy, a_pooled_connection_closed_at_reuse_is_retried_for_a_get)
{
    char body[256];

    start_one(FAKE_RACE, "keepalive_timeout = 60s\n" /* a slow machine must not expire it */);
    cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "%s", daemon_log());
    cr_assert_str_eq(body, "conn=1 req=1\n");
    cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "no 502 for a GET: %s",
                 daemon_log());
    cr_assert_str_eq(body, "conn=2 req=1\n", "sent again on a new connection");
    /* A POST is never sent twice, unless it carries Idempotency-Key. */
    cr_assert_eq(curl_get("-X POST", "/api/x", body, sizeof body), 502, "%s", daemon_log());
    cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "%s", daemon_log());
    cr_assert_eq(curl_get("-X POST -H 'Idempotency-Key: k1'", "/api/x", body, sizeof body), 200,
                 "%s", daemon_log());
}

Test(proxy, an_unreachable_upstream_is_skipped)
{
    char addrs[128], body[256];

    fake_start(&up, FAKE_OK);
    snprintf(addrs, sizeof addrs, "127.0.0.1:%u 127.0.0.1:%u", fake_dead_port(), up.port);
    start_proxy(addrs, "");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "%s", daemon_log());
}

Test(proxy, no_reachable_upstream_is_502)
{
    char addrs[128], body[256];

    snprintf(addrs, sizeof addrs, "127.0.0.1:%u", fake_dead_port());
    fake_start(&up, FAKE_OK);
    start_proxy(addrs, "");
    cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 502, "%s", daemon_log());
}

Test(proxy, killing_one_of_two_upstreams_keeps_gets_succeeding)
{
    char addrs[128], body[256];

    fake_start(&up, FAKE_OK);
    fake_start(&up2, FAKE_OK);
    snprintf(addrs, sizeof addrs, "127.0.0.1:%u 127.0.0.1:%u", up.port, up2.port);
    start_proxy(addrs, "");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "%s", daemon_log());
    cr_assert_gt(atomic_load(&up2.accepted), 0, "round robin used both");
    fake_kill(&up2);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(curl_get("", "/api/x", body, sizeof body), 200, "request %d: %s", i,
                     daemon_log());
}

/* Reads from fd until buf holds needle (HARNESS_WAIT_MS at most); false when it never
 * does. */
static bool read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle)
{
    long deadline = now_ms() + HARNESS_WAIT_MS;

    while (!memmem(buf, *len, needle, strlen(needle)) && now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            return false;
        *len += (size_t)n;
        buf[*len] = '\0';
    }
    return memmem(buf, *len, needle, strlen(needle)) != NULL;
}

Test(proxy, server_sent_events_reach_the_client_one_at_a_time)
{
    static const char req[] = "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[4096] = "";
    size_t len = 0;
    int fd;

    start_one(FAKE_SSE, "");
    fd = tcp_connect(d.port);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    cr_assert(read_until(fd, buf, sizeof buf, &len, "data: one\n\n"),
              "the first event arrives before the second is sent: %s", buf);
    cr_assert_null(strstr(buf, "data: two"), "%s", buf);
    atomic_store(&up.sse_go, 1);
    cr_assert(read_until(fd, buf, sizeof buf, &len, "data: two\n\n\r\n0\r\n\r\n"),
              "then the second and the end: %s", buf);
    close(fd);
}

/* Writes a file of len bytes without CR or LF; returns its path in out. */
static void write_payload(const char *name, size_t len, char *out, size_t cap)
{
    FILE *f;

    snprintf(out, cap, "%s/%s", d.dir, name);
    f = fopen(out, "wb");
    cr_assert_not_null(f);
    for (size_t i = 0; i < len; i++)
        fputc('a' + (int)((i * 7 + i / 4093) % 26), f);
    cr_assert_eq(fclose(f), 0);
}

static void echo_big(const char *curl_opts)
{
    char in[400], out[400], text[1024];

    start_one(FAKE_ECHO, "");
    write_payload("in.bin", 5 * 1024 * 1024 + 123, in, sizeof in);
    snprintf(out, sizeof out, "%s/out.bin", d.dir);
    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS %s --data-binary @'%s' -o '%s' -w '%%{http_code}' "
                         "http://127.0.0.1:%u/api/echo 2>&1",
                         curl_opts, in, out, d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, "200", "%s", daemon_log());
    cr_assert_eq(run_cmd(text, sizeof text, "cmp '%s' '%s' 2>&1", in, out), 0,
                 "the body came back changed: %s", text);
}

Test(proxy, a_large_body_streams_both_ways) { echo_big(""); }

Test(proxy, a_large_chunked_body_streams_both_ways) { echo_big("-H 'Transfer-Encoding: chunked'"); }

Test(proxy, a_client_expecting_100_continue_does_not_stall)
{
    char in[400], out[400], text[1024];

    start_one(FAKE_ECHO, "");
    write_payload("small.bin", 4000, in, sizeof in);
    snprintf(out, sizeof out, "%s/out.bin", d.dir);
    /* curl waits a whole second for 100 Continue before it sends anyway;
     * the exit status and the body say it did not have to. */
    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS -H 'Expect: 100-continue' --expect100-timeout 30 "
                         "--data-binary @'%s' -o '%s' -w '%%{http_code}' "
                         "http://127.0.0.1:%u/api/echo 2>&1",
                         in, out, d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, "200", "%s", daemon_log());
    cr_assert_eq(run_cmd(text, sizeof text, "cmp '%s' '%s' 2>&1", in, out), 0, "%s", text);
}

/* Starts Python's http.server on dir (Debian's python3, which
 * packaging/install-deps installs, not a wrapper earlier on PATH); returns
 * its port (read from what it prints to dir/python.out, within 30 s). */
static unsigned python_server(const char *dir)
{
    char out[400], *text;
    long deadline = now_ms() + 30000;
    unsigned port = 0;

    snprintf(out, sizeof out, "%s/python.out", dir);
    python_pid = harness_fork();
    if (python_pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl("/usr/bin/python3", "python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
              "--directory", dir, (char *)NULL);
        _exit(127);
    }
    while (port == 0 && now_ms() < deadline) {
        const char *p;

        text = file_slurp(out);
        p = strstr(text, " port ");
        if (p)
            port = (unsigned)strtoul(p + 6, NULL, 10);
        free(text);
        if (port == 0)
            usleep(20000);
    }
    text = file_slurp(out);
    cr_assert_neq(port, 0, "python3 -m http.server did not start: %s", text);
    free(text);
    return port;
}

Test(proxy, pythons_http_server_behind_the_proxy)
{
    char site[64] = "/tmp/cohttpd-py-XXXXXX", file[128], addr[64], body[256], head[4096], len[64];
    FILE *f;

    cr_assert_not_null(mkdtemp(site));
    snprintf(file, sizeof file, "%s/hello.txt", site);
    f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs("hello from python\n", f);
    fclose(f);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", python_server(site));
    start_proxy(addr, "strip_prefix = on\n");
    cr_assert_eq(curl_get("", "/api/hello.txt", body, sizeof body), 200, "%s", daemon_log());
    cr_assert_str_eq(body, "hello from python\n");
    cr_assert_eq(curl_get("", "/api/missing", body, sizeof body), 404, "%s", daemon_log());
    cr_assert_eq(
        run_cmd(head, sizeof head, "curl -sS -I 'http://127.0.0.1:%u/api/hello.txt'", d.port), 0,
        "%s", head);
    cr_assert_eq(response_status(head), 200, "%s", head);
    cr_assert_not_null(response_header(head, "Content-Length", len, sizeof len), "%s", head);
    cr_assert_str_eq(len, "18", "HEAD keeps the length of the GET: %s", head);
    run_cmd(NULL, 0, "rm -rf '%s'", site);
}

Test(proxy, route_describes_the_upstreams_and_the_target)
{
    char text[4096];

    daemon_prepare(&d, "[proxy /api/]\nupstream = 127.0.0.1:9000*3 [::1]:9001 weight=2\n"
                       "upstream = unix:/run/app.sock\nstrip_prefix = on\n");
    cr_assert_eq(run_cmd(text, sizeof text,
                         "'%s' --route 'GET http://h/api/v1/x?a=%%41' -c '%s' 2>&1", cohttpd_bin(),
                         d.config),
                 0, "%s", text);
    cr_assert(strstr(text, "handler: proxy\n"), "%s", text);
    cr_assert(strstr(text, "upstreams: 127.0.0.1:9000*3 [::1]:9001*2 unix:/run/app.sock\n"), "%s",
              text);
    cr_assert(strstr(text, "balance: round_robin\n"), "%s", text);
    cr_assert(strstr(text, "upstream target: GET /v1/x?a=%41\n"), "%s", text);
    cr_assert_eq(run_cmd(text, sizeof text, "'%s' -T -c '%s' 2>&1", cohttpd_bin(), d.config), 0,
                 "%s", text);
    cr_assert(strstr(text, "[proxy /api/]\nupstream = 127.0.0.1:9000*3\nupstream = [::1]:9001*2\n"
                           "upstream = unix:/run/app.sock\nbalance = round_robin\n"
                           "keepalive = 32\nkeepalive_timeout = 4s\nconnect_timeout = 5s\n"
                           "read_timeout = 1m\nsend_timeout = 1m\npreserve_host = off\n"
                           "strip_prefix = on\n"),
              "%s", text);
}

Test(proxy, a_bad_upstream_is_a_config_error_naming_its_line)
{
    char text[4096];

    /* The harness puts three [server] lines first: [proxy /api/] is line 4. */
    daemon_prepare(&d, "[proxy /api/]\nkeepalive = 4\nupstream = 127.0.0.1\n"
                       "upstream = [::1:80\nupstream = unix:relative\n"
                       "[proxy /b/]\nread_timeout = 1s\n");
    cr_assert_eq(run_cmd(text, sizeof text, "'%s' -t -c '%s' 2>&1", cohttpd_bin(), d.config), 1,
                 "%s", text);
    cr_assert(strstr(text, "cohttpd.ini:6: upstream '127.0.0.1' is not HOST:PORT"), "%s", text);
    cr_assert(strstr(text, "cohttpd.ini:7: upstream '[::1:80' has a malformed [IPv6] address"),
              "%s", text);
    cr_assert(strstr(text, "cohttpd.ini:8: upstream 'unix:relative' needs an absolute socket path"),
              "%s", text);
    cr_assert(strstr(text, "cohttpd.ini:9: [proxy /b/] needs 'upstream'"), "%s", text);
}
