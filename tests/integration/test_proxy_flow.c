/* Integration: how a request flows through the proxy: the upstream in the access log,
 * interim responses, a client that leaves, encoded bytes in the target. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

#define WAIT_MS 30000 /* the longest any step waits */

static struct daemon d;
static struct fake up;
static char logdir[64]; /* outside the daemon's directory: it outlives daemon_stop */

static void fini(void)
{
    daemon_kill(&d);
    fake_kill(&up);
    if (logdir[0])
        run_cmd(NULL, 0, "rm -rf '%s'", logdir);
}

TestSuite(proxy_flow, .fini = fini);

static char *daemon_log(void) { return file_slurp(d.log); }

/* Starts the daemon in front of the upstream on port, with the JSON
 * access log in logdir/access.log and extra lines in the route; start()
 * runs a fake upstream in mode there first. */
static void start_port(unsigned port, const char *extra)
{
    char ini[1024];

    snprintf(logdir, sizeof logdir, "/tmp/cohttpd-pxlog-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = %s/access.log\n"
             "access_log_format = json\n[static /]\nroot = %%ROOT%%\n"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\n%s",
             logdir, port, extra);
    daemon_start(&d, ini);
}

static void start(enum fake_mode mode, const char *extra)
{
    fake_start(&up, mode);
    start_port(up.port, extra);
}

/* curl with opts on path: the status (or -exit code). */
static int curl_status(const char *opts, const char *path)
{
    char out[64];
    int rc = run_cmd(out, sizeof out,
                     "curl -sS %s -o /dev/null -w '%%{http_code}' 'http://127.0.0.1:%u%s'", opts,
                     d.port, path);

    return rc == 0 ? atoi(out) : -rc;
}

Test(proxy_flow, the_json_access_log_names_the_upstream_and_its_time)
{
    char out[512], want[128];

    start(FAKE_OK, "");
    cr_assert_eq(curl_status("", "/api/x"), 200, "%s", daemon_log());
    cr_assert_eq(curl_status("", "/static.txt"), 404, "%s", daemon_log());
    cr_assert_eq(daemon_stop(&d), 0); /* stopping writes what is buffered */
    cr_assert_eq(
        run_cmd(out, sizeof out,
                "python3 -c 'import json, sys\n"
                "for l in open(sys.argv[1]):\n"
                "    o = json.loads(l)\n"
                "    t = o.get(\"upstream_time_us\")\n"
                "    print(o[\"status\"], o.get(\"upstream\"), isinstance(t, int) and t >= 0)"
                "' '%s/access.log'",
                logdir),
        0, "%s", out);
    snprintf(want, sizeof want, "200 127.0.0.1:%u True\n404 None False\n", up.port);
    cr_assert_str_eq(out, want, "the log's lines, as read back");
}

/* Sends req on a new connection and reads until the body "ok" arrives. */
static char *exchange_until_ok(const char *req, size_t len, size_t *got)
{
    char *buf = calloc(1, 8192);
    int fd = tcp_connect(d.port);

    cr_assert_not_null(buf);
    *got = 0;
    cr_assert(tcp_send_all(fd, req, len));
    cr_assert(tcp_read_until(fd, buf, 8192, got, "\r\n\r\nok", WAIT_MS), "%s\n%s", buf,
              daemon_log());
    close(fd);
    return buf;
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(proxy_flow, early_hints_reach_the_client_before_the_response)
{
    static const char req[] = "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char want[] = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                               "HTTP/1.1 200 OK\r\n";
    char out[4096];
    size_t len;
    char *buf;

    start(FAKE_INTERIM, "");
    buf = exchange_until_ok(req, sizeof req - 1, &len);
    cr_assert_eq(strncmp(buf, want, sizeof want - 1), 0, "%s", buf);
    cr_assert_null(strstr(buf, "100 Continue"), "no 100 the client did not ask for: %s", buf);
    free(buf);
    /* curl shows the 103 it was given, with its Link. */
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sSv 'http://127.0.0.1:%u/api/x' 2>&1", d.port), 0,
                 "%s", out);
    cr_assert(strstr(out, "< HTTP/1.1 103 Early Hints"), "%s", out);
    cr_assert(strstr(out, "< Link: </a.css>; rel=preload"), "%s", out);
    cr_assert(strstr(out, "< HTTP/1.1 200 OK"), "%s", out);
}

Test(proxy_flow, an_http_1_0_client_gets_no_interim_response)
{
    static const char req[] = "GET /api/x HTTP/1.0\r\n\r\n";
    size_t len;
    char *buf;

    start(FAKE_INTERIM, "");
    buf = exchange_until_ok(req, sizeof req - 1, &len);
    cr_assert_eq(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", buf);
    cr_assert_eq(count_of(buf, "HTTP/1.1 "), 1, "%s", buf);
    free(buf);
}

Test(proxy_flow, a_client_expecting_100_gets_it_once_with_the_early_hints)
{
    static const char req[] = "POST /api/x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                              "Content-Length: 5\r\n\r\n";
    char buf[8192] = "";
    size_t len = 0;
    int fd;

    start(FAKE_INTERIM, "");
    fd = tcp_connect(d.port);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    cr_assert(tcp_read_until(fd, buf, sizeof buf, &len, "100 Continue\r\n\r\n", WAIT_MS), "%s\n%s",
              buf, daemon_log());
    cr_assert(tcp_send_all(fd, "hello", 5));
    cr_assert(tcp_read_until(fd, buf, sizeof buf, &len, "\r\n\r\nok", WAIT_MS), "%s", buf);
    cr_assert_eq(count_of(buf, "HTTP/1.1 100 Continue\r\n"), 1, "%s", buf);
    cr_assert_eq(count_of(buf, "HTTP/1.1 103 Early Hints\r\n"), 1, "%s", buf);
    cr_assert(strstr(buf, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                          "HTTP/1.1 200 OK\r\n"),
              "%s", buf);
    close(fd);
}

/* A raw upstream's end of the proxy's next connection, its request head read. */
static int upstream_takes_request(int lfd, const char *path)
{
    char buf[8192] = "";
    size_t len = 0;
    int fd = tcp_accept(lfd, WAIT_MS);

    cr_assert_geq(fd, 0, "the proxy never connected: %s", daemon_log());
    cr_assert(tcp_read_until(fd, buf, sizeof buf, &len, "\r\n\r\n", WAIT_MS), "%s", buf);
    cr_assert(strstr(buf, path), "%s", buf);
    return fd;
}

Test(proxy_flow, a_client_that_leaves_closes_the_upstream_connection)
{
    static const char req[] = "GET /api/slow HTTP/1.1\r\nHost: h\r\n\r\n";
    unsigned port;
    int lfd = tcp_listen(&port), cfd, ufd;

    start_port(port, "read_timeout = 300s\n");
    cfd = tcp_connect(d.port);
    cr_assert(tcp_send_all(cfd, req, sizeof req - 1));
    ufd = upstream_takes_request(lfd, "GET /api/slow ");
    close(cfd);
    /* The upstream has not answered: only the client's leaving can end it. */
    cr_assert(wait_closed(ufd, WAIT_MS),
              "the upstream's connection stayed open after the client left: %s", daemon_log());
    cr_assert(file_wait_for(d.log, "the client left", WAIT_MS), "%s", daemon_log());
    close(ufd);
    close(lfd);
}

Test(proxy_flow, a_client_sending_its_next_request_while_it_waits_is_served_both)
{
    static const char one[] = "GET /api/one HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char two[] = "GET /api/two HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char ok1[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok-1";
    static const char ok2[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok-2";
    char buf[8192] = "";
    size_t len = 0;
    unsigned port;
    int lfd = tcp_listen(&port), cfd, ufd;

    start_port(port, "keepalive_timeout = 60s\n");
    cfd = tcp_connect(d.port);
    cr_assert(tcp_send_all(cfd, one, sizeof one - 1));
    ufd = upstream_takes_request(lfd, "GET /api/one ");
    /* Pipelined while the first waits: the client is there, not gone. */
    cr_assert(tcp_send_all(cfd, two, sizeof two - 1));
    cr_assert_eq(wait_closed(ufd, 300), false, "the upstream was cut: %s", daemon_log());
    cr_assert(tcp_send_all(ufd, ok1, sizeof ok1 - 1));
    cr_assert(tcp_read_until(cfd, buf, sizeof buf, &len, "ok-1", WAIT_MS), "%s\n%s", buf,
              daemon_log());
    len = 0;
    {
        char head[8192] = "";

        cr_assert(tcp_read_until(ufd, head, sizeof head, &len, "\r\n\r\n", WAIT_MS),
                  "the second request, on the same upstream connection: %s", head);
        cr_assert(strstr(head, "GET /api/two "), "%s", head);
    }
    cr_assert(tcp_send_all(ufd, ok2, sizeof ok2 - 1));
    len = strlen(buf);
    cr_assert(tcp_read_until(cfd, buf, sizeof buf, &len, "ok-2", WAIT_MS), "%s\n%s", buf,
              daemon_log());
    close(cfd);
    close(ufd);
    close(lfd);
}

/* The raw GET of target; returns the status, the response in out. */
static int raw_get(const char *target, char *out, size_t cap)
{
    char req[512], *resp;
    size_t len;
    int fd = tcp_connect(d.port), n;

    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
    cr_assert(tcp_send_all(fd, req, (size_t)n));
    resp = read_responses(fd, 1, WAIT_MS, &len);
    snprintf(out, cap, "%s", resp);
    free(resp);
    close(fd);
    return response_status(out);
}

Test(proxy_flow, encoded_slashes_reach_the_upstream_and_never_the_files)
{
    char out[8192];

    start(FAKE_HEADERS, "");
    site_write(&d, "a/b", "file", 4);
    cr_assert_eq(raw_get("/api/a%2Fb%3F?q=%2F", out, sizeof out), 200, "%s\n%s", out, daemon_log());
    cr_assert(strstr(out, "\r\n\r\nGET /api/a%2Fb%3F?q=%2F HTTP/1.1\r\n"),
              "the target goes up as received: %s", out);
    cr_assert_eq(raw_get("/api/x/..%2F..%2Fy%2f", out, sizeof out), 200, "%s", out);
    cr_assert(strstr(out, "\r\n\r\nGET /api/x/..%2F..%2Fy%2f HTTP/1.1\r\n"), "%s", out);
    /* A static route still refuses what hides a segment boundary. */
    cr_assert_eq(raw_get("/a/b", out, sizeof out), 200, "%s", out);
    cr_assert_eq(raw_get("/a%2Fb", out, sizeof out), 400, "%s", out);
    cr_assert_eq(raw_get("/api%2Fa%2Fb", out, sizeof out), 400, "not the proxy's prefix: %s", out);
    cr_assert_eq(raw_get("/%2e%2e%2f%2e%2e%2fetc%2fpasswd", out, sizeof out), 400, "%s", out);
    /* Dot-segments are still removed before routing: this is the site's. */
    cr_assert_eq(raw_get("/api/../a/b", out, sizeof out), 200, "%s", out);
    cr_assert(strstr(out, "\r\n\r\nfile"), "served from the files, not the upstream: %s", out);
}

/* The daemon's resident memory in KiB (VmRSS), or -1. */
static long daemon_rss_kib(void)
{
    char path[64], *status, *line;
    long kib = -1;

    snprintf(path, sizeof path, "/proc/%d/status", (int)d.pid);
    status = file_slurp(path);
    line = strstr(status, "VmRSS:");
    if (line)
        kib = strtol(line + 6, NULL, 10);
    free(status);
    return kib;
}

/* Reads what fd has (waiting up to WAIT_MS for it) into buf; the bytes
 * read, 0 at the end, -1 when nothing came in time. */
static long read_some(int fd, char *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    if (poll(&p, 1, WAIT_MS) <= 0)
        return -1;
    return (long)read(fd, buf, cap);
}

Test(proxy_flow, a_large_response_to_a_slow_reader_streams_in_bounded_memory, .timeout = 300)
{
    static const char req[] = "GET /api/big HTTP/1.1\r\nHost: x\r\n\r\n";
    static char buf[65536];
    long long got = 0, want = -1, lag;
    long idle, peak = 0, rss;
    int fd;

    start(FAKE_BIG, "");
    idle = daemon_rss_kib();
    cr_assert_gt(idle, 0, "no VmRSS for pid %d", (int)d.pid);
    fd = tcp_connect(d.port);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    /* Slowly at first: 16 KiB every 10 ms, 200 times. */
    for (int i = 0; i < 200; i++) {
        long n = read_some(fd, buf, 16384);

        cr_assert_gt(n, 0, "the response stopped after %lld bytes: %s", got, daemon_log());
        if (want < 0 && strstr(buf, "\r\n\r\n"))
            want = (long long)(strstr(buf, "\r\n\r\n") + 4 - buf) + FAKE_BIG_SIZE;
        got += n;
        if ((rss = daemon_rss_kib()) > peak)
            peak = rss;
        usleep(10000);
    }
    cr_assert_gt(want, 0, "no response head: %.200s", buf);
    lag = atomic_load(&up.sent) - got;
    cr_assert_lt(lag, 32LL << 20,
                 "back-pressure did not reach the upstream: it sent %lld bytes, the client "
                 "read %lld",
                 atomic_load(&up.sent), got);
    /* Then as fast as it comes, the memory looked at every 8 MiB. */
    while (got < want) {
        long n = read_some(fd, buf, sizeof buf);

        cr_assert_gt(n, 0, "the response stopped after %lld of %lld bytes: %s", got, want,
                     daemon_log());
        if (got / (8 << 20) != (got + n) / (8 << 20) && (rss = daemon_rss_kib()) > peak)
            peak = rss;
        got += n;
    }
    close(fd);
    cr_assert_eq(got, want);
    cr_assert_lt(peak - idle, 64 * 1024,
                 "the daemon's RSS grew from %ld KiB idle to %ld KiB while relaying %lld bytes",
                 idle, peak, FAKE_BIG_SIZE);
}
