/* Integration: the proxy's balancing, passive health, retries and max_conns against fake upstreams.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

#define N_UPS 3

static struct daemon d;
static struct fake ups[N_UPS];
static int stalled[2][2] = {{-1, -1}, {-1, -1}};

static void fini(void)
{
    daemon_kill(&d);
    for (int i = 0; i < N_UPS; i++)
        fake_kill(&ups[i]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (stalled[i][j] >= 0)
                close(stalled[i][j]);
}

TestSuite(proxy_balance, .fini = fini);

/* Starts n fakes in mode and the daemon (one worker) with [proxy /api/]
 * to them, the weights given (NULL: 1 each), plus extra keys. */
static void start(int n, enum fake_mode mode, const unsigned *weights, const char *extra)
{
    char ini[2048], *p = ini;
    size_t left = sizeof ini;
    int k = snprintf(p, left, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[proxy /api/]\n");

    for (int i = 0; i < n; i++) {
        fake_start(&ups[i], mode);
        p += k;
        left -= (size_t)k;
        k = snprintf(p, left, "upstream = 127.0.0.1:%u*%u\n", ups[i].port,
                     weights ? weights[i] : 1);
    }
    snprintf(p + k, left - (size_t)k, "%s", extra);
    daemon_start(&d, ini);
}

static size_t sink(char *data, size_t size, size_t n, void *arg)
{
    char *out = arg;
    size_t have = strlen(out), add = size * n;

    if (have + add < 256) {
        memcpy(out + have, data, add);
        out[have + add] = '\0';
    }
    return size * n;
}

/* GET path with libcurl (header: one extra header line or NULL); returns
 * the status, or -1 when no response came; the body (up to 255 bytes) in
 * body when not NULL. */
static long get(const char *path, const char *header, char *body)
{
    char url[256], buf[256] = "";
    struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
    CURL *c = curl_easy_init();
    long status = -1;

    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", d.port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (body)
        memcpy(body, buf, sizeof buf);
    return status;
}

static char *daemon_log(void) { return file_slurp(d.log); }

/* Each fake's connection count, "a b c", for messages. */
static const char *counts(void)
{
    static char text[64];

    snprintf(text, sizeof text, "%d %d %d", atomic_load(&ups[0].accepted),
             atomic_load(&ups[1].accepted), atomic_load(&ups[2].accepted));
    return text;
}

/* n GETs of /api/x, each of them a 200. */
static void get_ok(int n, const char *header)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(get("/api/x", header, NULL), 200, "request %d (%s): %s", i, counts(),
                     daemon_log());
}

/* keepalive = 0: every request is a new upstream connection, so each
 * fake's accepted count is the requests it was given. */
Test(proxy_balance, round_robin_gives_each_upstream_its_weight)
{
    static const unsigned w[] = {2, 1, 1};

    start(3, FAKE_OK, w, "keepalive = 0\n");
    get_ok(8, NULL);
    cr_assert(atomic_load(&ups[0].accepted) == 4 && atomic_load(&ups[1].accepted) == 2 &&
                  atomic_load(&ups[2].accepted) == 2,
              "2:1:1 of 8 requests: %s", counts());
}

/* Sends a GET from a raw socket and returns it, the request unanswered. */
static int hold_request(void)
{
    static const char req[] = "GET /api/slow HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd = tcp_connect(d.port);

    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    return fd;
}

/* Waits (bounded) until fake f accepted n connections. */
static bool wait_accepted(struct fake *f, int n)
{
    long deadline = now_ms() + 15000;

    while (atomic_load(&f->accepted) < n && now_ms() < deadline)
        usleep(10000);
    return atomic_load(&f->accepted) >= n;
}

Test(proxy_balance, least_conn_sends_nothing_to_the_busy_upstream)
{
    int fd;

    start(2, FAKE_OK, NULL, "balance = least_conn\nread_timeout = 60s\n");
    atomic_store(&ups[0].mode, FAKE_HANG);
    /* among idle upstreams the first goes first: the request that hangs */
    fd = hold_request();
    cr_assert(wait_accepted(&ups[0], 1), "the first upstream got the first request: %s", counts());
    get_ok(6, NULL);
    cr_assert_eq(atomic_load(&ups[0].accepted), 1, "nothing more to the busy one: %s", counts());
    close(fd);
}

Test(proxy_balance, random_two_uses_every_upstream)
{
    start(2, FAKE_OK, NULL, "balance = random_two\nkeepalive = 0\n");
    get_ok(40, NULL);
    cr_assert(atomic_load(&ups[0].accepted) > 0 && atomic_load(&ups[1].accepted) > 0, "%s",
              counts());
}

Test(proxy_balance, hash_on_a_header_keeps_each_user_on_one_upstream)
{
    int used = 0;

    start(3, FAKE_OK, NULL, "balance = hash\nhash_key = header:X-User\nkeepalive = 0\n");
    for (int user = 0; user < 12; user++) {
        char header[64];
        int before[N_UPS], moved = 0;

        for (int i = 0; i < N_UPS; i++)
            before[i] = atomic_load(&ups[i].accepted);
        snprintf(header, sizeof header, "X-User: user-%d", user);
        get_ok(4, header);
        for (int i = 0; i < N_UPS; i++)
            moved += atomic_load(&ups[i].accepted) - before[i] == 4;
        cr_assert_eq(moved, 1, "user-%d's 4 requests went to one upstream: %s", user, counts());
    }
    for (int i = 0; i < N_UPS; i++)
        used += atomic_load(&ups[i].accepted) > 0;
    cr_assert_geq(used, 2, "12 users spread over the upstreams: %s", counts());
}

Test(proxy_balance, hash_on_the_client_keeps_it_on_one_upstream)
{
    start(3, FAKE_OK, NULL, "balance = hash\nkeepalive = 0\n");
    get_ok(6, "X-User: someone"); /* not the key: the client address is */
    cr_assert(atomic_load(&ups[0].accepted) == 6 || atomic_load(&ups[1].accepted) == 6 ||
                  atomic_load(&ups[2].accepted) == 6,
              "%s", counts());
}

Test(proxy_balance, a_failing_upstream_is_skipped_for_fail_timeout)
{
    char *log;

    start(2, FAKE_OK, NULL, "max_fails = 1\nfail_timeout = 60s\nkeepalive = 0\n");
    atomic_store(&ups[0].mode, FAKE_CLOSE);
    get_ok(10, NULL); /* the one it failed moves to the other */
    cr_assert_eq(atomic_load(&ups[0].accepted), 1, "tried once, then skipped: %s", counts());
    cr_assert(file_wait_for(d.log, "skipped for 60000 ms", 10000), "logged");
    log = daemon_log();
    cr_assert(strstr(log, "closed before a response"), "%s", log);
    free(log);
}

Test(proxy_balance, max_fails_0_keeps_trying_a_failing_upstream)
{
    start(2, FAKE_OK, NULL, "max_fails = 0\nkeepalive = 0\n");
    atomic_store(&ups[0].mode, FAKE_CLOSE);
    get_ok(10, NULL);
    cr_assert_gt(atomic_load(&ups[0].accepted), 1, "%s", counts());
}

Test(proxy_balance, when_every_upstream_is_out_they_are_tried_anyway)
{
    start(1, FAKE_CLOSE, NULL, "max_fails = 1\nfail_timeout = 60s\nkeepalive = 0\n");
    cr_assert_eq(get("/api/x", NULL, NULL), 502, "%s", daemon_log());
    atomic_store(&ups[0].mode, FAKE_OK);
    get_ok(1, NULL); /* out for 60 s, but the only one */
}

Test(proxy_balance, retries_bound_the_upstreams_tried_and_the_log_names_them)
{
    char want[256], *log;

    start(3, FAKE_CLOSE, NULL, "max_fails = 0\nretries = 1\nkeepalive = 0\n");
    cr_assert_eq(get("/api/x", NULL, NULL), 502, "%s", daemon_log());
    cr_assert_eq(atomic_load(&ups[0].accepted) + atomic_load(&ups[1].accepted) +
                     atomic_load(&ups[2].accepted),
                 2, "the first and one retry: %s", counts());
    snprintf(want, sizeof want,
             "GET /api/x: no upstream answered (tried: 127.0.0.1:%u (closed before a response), "
             "127.0.0.1:%u (closed before a response)): 502",
             ups[0].port, ups[1].port);
    cr_assert(file_wait_for(d.log, want, 10000), "%s", want);
    log = daemon_log();
    free(log);
}

Test(proxy_balance, retries_2_tries_three)
{
    start(3, FAKE_CLOSE, NULL, "max_fails = 0\nretries = 2\nkeepalive = 0\n");
    cr_assert_eq(get("/api/x", NULL, NULL), 502, "%s", daemon_log());
    cr_assert(atomic_load(&ups[0].accepted) == 1 && atomic_load(&ups[1].accepted) == 1 &&
                  atomic_load(&ups[2].accepted) == 1,
              "%s", counts());
}

Test(proxy_balance, a_connect_timeout_moves_to_the_next_upstream_for_a_post)
{
    char ini[512], body[256];

    fake_start(&ups[0], FAKE_OK);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[proxy /api/]\n"
             "upstream = 127.0.0.1:%u 127.0.0.1:%u\nconnect_timeout = 1s\n",
             fake_stalled_port(stalled[0]), ups[0].port);
    daemon_start(&d, ini);
    /* nothing was sent to the first: even a POST moves on */
    cr_assert_eq(run_cmd(body, sizeof body,
                         "curl -sS -X POST -d x -o /dev/null -w '%%{http_code}' "
                         "http://127.0.0.1:%u/api/x 2>&1",
                         d.port),
                 0, "%s", body);
    cr_assert_str_eq(body, "200", "%s", daemon_log());
    cr_assert(file_wait_for(d.log, "connect_timeout", 10000), "logged");
}

Test(proxy_balance, connect_timeouts_everywhere_are_504)
{
    char ini[512], want[256];
    unsigned port;

    port = fake_stalled_port(stalled[0]);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[proxy /api/]\n"
             "upstream = 127.0.0.1:%u\nconnect_timeout = 1s\n",
             port);
    daemon_start(&d, ini);
    cr_assert_eq(get("/api/x", NULL, NULL), 504, "%s", daemon_log());
    snprintf(want, sizeof want, "(tried: 127.0.0.1:%u (connect_timeout)): 504", port);
    cr_assert(file_wait_for(d.log, want, 10000), "%s", want);
}

Test(proxy_balance, retry_timeout_ends_the_tries_with_504)
{
    char ini[512];

    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[proxy /api/]\n"
             "upstream = 127.0.0.1:%u 127.0.0.1:%u\nconnect_timeout = 60s\n"
             "retry_timeout = 1s\nretries = 5\n",
             fake_stalled_port(stalled[0]), fake_stalled_port(stalled[1]));
    daemon_start(&d, ini);
    cr_assert_eq(get("/api/x", NULL, NULL), 504, "%s", daemon_log());
    cr_assert(file_wait_for(d.log, "(retry_timeout)): 504", 10000), "the log says why");
}
