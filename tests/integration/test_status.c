/* Integration: the [status] route, its JSON and Prometheus pages and its allow list. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;
static const char index_html[] = "<h1>counted</h1>\n";

static void start(const char *allow)
{
    char ini[512];

    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
             "[static /]\nroot = %%ROOT%%\n[redirect /old]\nto = /\n"
             "[status /status]\n%s",
             allow);
    daemon_start(&d, ini);
    site_write(&d, "index.html", index_html, sizeof index_html - 1);
}

static void start_default(void) { start(""); }

static void stop(void) { daemon_kill(&d); }

TestSuite(status, .init = start_default, .fini = stop, .timeout = 120);
/* Each test starts the daemon with its own allow list. */
TestSuite(allow, .fini = stop, .timeout = 120);

/* Sends req on its own connection and returns the whole answer (malloc'd). */
static char *exchange(const char *req, size_t *len)
{
    bool closed;
    char *out = raw_exchange(d.port, req, strlen(req), 10000, len, &closed);

    cr_assert(closed, "the server kept the connection: %s", out);
    return out;
}

/* The body of the page at target with the given extra header lines, after
 * checking its status and Content-Type; saved to d.dir/name. */
static char *page(const char *target, const char *headers, const char *type, const char *name)
{
    char req[512], ct[128], path[400];
    size_t len, body_len;
    char *out, *body;
    const char *b;
    FILE *f;

    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", target,
             headers);
    out = exchange(req, &len);
    cr_assert_eq(response_status(out), 200, "%s", out);
    cr_assert_not_null(response_header(out, "Content-Type", ct, sizeof ct), "%s", out);
    cr_assert_eq(strncmp(ct, type, strlen(type)), 0, "Content-Type %s, not %s", ct, type);
    b = response_body(out, len, &body_len);
    cr_assert_not_null(b, "%s", out);
    body = strndup(b, body_len);
    free(out);
    snprintf(path, sizeof path, "%s/%s", d.dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(body, f);
    fclose(f);
    return body;
}

static const char *const reqs[] = {
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "GET /old HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
};
#define N_REQS (sizeof reqs / sizeof reqs[0])

/* Sends every request of reqs; returns the bytes sent and, in *got, the
 * bytes of the answers. */
static size_t send_requests(size_t *got)
{
    size_t sent = 0;

    *got = 0;
    for (size_t i = 0; i < N_REQS; i++) {
        size_t len;
        char *out = exchange(reqs[i], &len);

        cr_assert_gt(response_status(out), 0, "%s", out);
        sent += strlen(reqs[i]);
        *got += len;
        free(out);
    }
    return sent;
}

Test(status, json_counters_match_the_requests_sent)
{
    char script[1024], out[256], expect[256];
    size_t got, sent = send_requests(&got);
    char *body = page("/status", "", "application/json", "status.json");

    /* A JSON parser reads the page; each value is what the test sent. */
    snprintf(
        script, sizeof script,
        "python3 -c 'import json, sys; o = json.load(open(sys.argv[1])); "
        "c = o[\"connections\"]; r = o[\"requests\"]; s = r[\"status\"]; "
        "d = o[\"duration_us\"]; w = o[\"workers\"]; f = o[\"file_cache\"]; "
        "assert len(w) == 2 and all(0 <= x[\"busy_ratio\"] <= 1 and x[\"loop_iterations\"] > 0 "
        "for x in w), w; "
        "assert c[\"open\"] >= 1 and c[\"writing\"] >= 1, c; "
        "assert d[\"buckets\"][-1][\"count\"] == d[\"count\"] == r[\"total\"], d; "
        "assert f[\"hits\"] >= 1 and f[\"misses\"] >= 1, f; "
        "print(c[\"accepted\"], r[\"total\"], s[\"2xx\"], s[\"3xx\"], s[\"4xx\"], s[\"5xx\"], "
        "r[\"routes\"][\"static /\"], r[\"routes\"][\"redirect /old\"], "
        "r[\"routes\"][\"status /status\"], o[\"bytes\"][\"in\"], o[\"bytes\"][\"out\"])' "
        "'%s/status.json'",
        d.dir);
    cr_assert_eq(run_cmd(out, sizeof out, "%s", script), 0, "the page: %s", body);
    /* The page's own request is routed and accepted, not yet answered. */
    snprintf(expect, sizeof expect, "%zu 6 3 1 2 0 5 1 1 %zu %zu\n", N_REQS + 1, sent, got);
    cr_assert_str_eq(out, expect, "the page: %s", body);
    free(body);
}

/* The connections in the JSON page: open, idle, reading, writing. */
static void connection_gauges(unsigned long long *open, unsigned long long *idle,
                              unsigned long long *reading, unsigned long long *writing)
{
    char *body = page("/status", "", "application/json", "gauges.json");
    const char *c = strstr(body, "\"connections\":{");

    cr_assert_not_null(c, "%s", body);
    cr_assert_eq(sscanf(c,
                        "\"connections\":{\"open\":%llu,\"idle\":%llu,\"reading\":%llu,"
                        "\"writing\":%llu",
                        open, idle, reading, writing),
                 4, "%s", body);
    free(body);
}

/* A connection waiting for the rest of a head is reading; one between
 * requests is idle; the page's own request is being written. */
Test(status, gauges_tell_idle_reading_and_writing_connections_apart)
{
    static const char whole[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char part[] = "GET /index.html HTTP/1.1\r\nHo";
    unsigned long long open = 0, idle = 0, reading = 0, writing = 0;
    int kept = tcp_connect(d.port), slow = tcp_connect(d.port);
    size_t len;
    char *out;

    cr_assert(kept >= 0 && slow >= 0);
    cr_assert(tcp_send_all(kept, whole, sizeof whole - 1));
    out = read_responses(kept, 1, 10000, &len);
    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
    cr_assert(tcp_send_all(slow, part, sizeof part - 1));
    /* The partial head reaches its worker, and the first connection's
     * worker goes back to its loop, at some point: bounded polling. */
    for (int i = 0; i < 100; i++) {
        connection_gauges(&open, &idle, &reading, &writing);
        if (reading == 1 && writing == 1)
            break;
        usleep(20000);
    }
    cr_assert_eq(reading, 1, "the connection with half a head is reading");
    cr_assert_eq(writing, 1, "only the page's own request is being served");
    cr_assert_eq(idle, 1, "the connection between requests is idle");
    cr_assert_eq(open, 3);
    /* Its head completed, the slow connection is served and goes idle. */
    cr_assert(tcp_send_all(slow, "st: x\r\n\r\n", 9));
    out = read_responses(slow, 1, 10000, &len);
    cr_assert_eq(response_status(out), 200, "%s", out);
    free(out);
    for (int i = 0; i < 100; i++) {
        connection_gauges(&open, &idle, &reading, &writing);
        if (idle == 2)
            break;
        usleep(20000);
    }
    cr_assert_eq(reading, 0);
    cr_assert_eq(writing, 1);
    cr_assert_eq(idle, 2);
    close(kept);
    close(slow);
}

Test(status, prometheus_text_passes_promtool)
{
    char out[4096];
    size_t got;
    char *text;

    send_requests(&got);
    text = page("/status", "Accept: text/plain\r\n", "text/plain; version=0.0.4", "metrics.txt");
    cr_assert(strstr(text, "\ncohttpd_requests_total{class=\"2xx\"} 3\n"), "%s", text);
    cr_assert(strstr(text, "\ncohttpd_requests_total{class=\"4xx\"} 2\n"), "%s", text);
    cr_assert(strstr(text, "\ncohttpd_route_requests_total{route=\"redirect /old\"} 1\n"), "%s",
              text);
    cr_assert(strstr(text, "\ncohttpd_request_duration_seconds_count 6\n"), "%s", text);
    cr_assert(strstr(text, "\ncohttpd_request_duration_seconds_bucket{le=\"+Inf\"} 6\n"), "%s",
              text);
    free(text);
    if (run_cmd(NULL, 0, "command -v promtool >/dev/null") != 0)
        cr_assert_fail("promtool is missing (packaging/install-deps --test installs prometheus)");
    cr_assert_eq(run_cmd(out, sizeof out, "promtool check metrics < '%s/metrics.txt' 2>&1", d.dir),
                 0, "promtool check metrics: %s", out);
    text = page("/status?format=prometheus", "", "text/plain; version=0.0.4", "query.txt");
    cr_assert_eq(run_cmd(out, sizeof out, "promtool check metrics < '%s/query.txt' 2>&1", d.dir), 0,
                 "promtool check metrics (?format=prometheus): %s", out);
    free(text);
}

Test(status, only_get_and_head_read_the_page)
{
    size_t len;
    char allow[64];
    char *out = exchange("POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n",
                         &len);

    cr_assert_eq(response_status(out), 405, "%s", out);
    cr_assert_not_null(response_header(out, "Allow", allow, sizeof allow), "%s", out);
    cr_assert_str_eq(allow, "GET, HEAD");
    free(out);
    out = exchange("GET /status/more HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &len);
    cr_assert_eq(response_status(out), 404, "%s", out);
    free(out);
}

Test(allow, a_client_outside_allow_gets_403)
{
    size_t len;
    char *out;

    start("allow = 10.0.0.0/8 ::2\n");
    out = exchange("GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &len);
    cr_assert_eq(response_status(out), 403, "127.0.0.1 is outside allow: %s", out);
    cr_assert_null(strstr(out, "\"connections\""), "the page leaked: %s", out);
    free(out);
}

Test(allow, a_client_inside_allow_reads_the_page)
{
    char *body;

    start("allow = 10.0.0.0/8 127.0.0.1/32\n");
    body = page("/status", "", "application/json", "status.json");
    cr_assert(strstr(body, "\"connections\""), "%s", body);
    free(body);
}
