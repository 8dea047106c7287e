/* Integration: the proxy's balancing, passive health, retries and max_conns against fake upstreams.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

#define N_UPS 3

static struct daemon d;
static struct fake ups[N_UPS];
static int stalled[2][2] = {{-1, -1}, {-1, -1}};
static const char *server_keys = ""; /* more [server] lines for start() */

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
    int k = snprintf(p, left, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n%s[proxy /api/]\n",
                     server_keys);

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

/* Waits up to ms until *count reaches n; whether it did. */
static bool wait_count(const _Atomic int *count, int n, long ms)
{
    long deadline = now_ms() + ms;

    while (atomic_load(count) < n && now_ms() < deadline)
        usleep(10000);
    return atomic_load(count) >= n;
}

Test(proxy_balance, least_conn_sends_nothing_to_the_busy_upstream)
{
    int fd;

    start(2, FAKE_OK, NULL, "balance = least_conn\nread_timeout = 60s\n");
    atomic_store(&ups[0].mode, FAKE_HANG);
    /* among idle upstreams the first goes first: the request that hangs */
    fd = hold_request();
    cr_assert(wait_count(&ups[0].accepted, 1, HARNESS_WAIT_MS),
              "the first upstream got the first request: %s", counts());
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
    cr_assert(file_wait_for(d.log, "skipped for 60000 ms", HARNESS_WAIT_MS), "logged");
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
    cr_assert(file_wait_for(d.log, want, HARNESS_WAIT_MS), "%s", want);
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
    cr_assert(file_wait_for(d.log, "connect_timeout", HARNESS_WAIT_MS), "logged");
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
    cr_assert(file_wait_for(d.log, want, HARNESS_WAIT_MS), "%s", want);
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
    cr_assert(file_wait_for(d.log, "(retry_timeout)): 504", HARNESS_WAIT_MS), "the log says why");
}

/* Reads from fd until buf holds needle (HARNESS_WAIT_MS at most). */
static bool read_for(int fd, char *buf, size_t cap, const char *needle)
{
    size_t len = strlen(buf);
    long deadline = now_ms() + HARNESS_WAIT_MS;

    while (!strstr(buf, needle) && now_ms() < deadline && len + 1 < cap) {
        bool closed = false;
        size_t n = 0;
        char *more = read_until_idle(fd, 100, &n, &closed);

        if (n > cap - 1 - len)
            n = cap - 1 - len;
        memcpy(buf + len, more, n);
        len += n;
        buf[len] = '\0';
        free(more);
        if (closed)
            break;
    }
    return strstr(buf, needle) != NULL;
}

Test(proxy_balance, max_conns_then_queue_timeout_is_503)
{
    char buf[4096] = "", body[256];
    int fd;

    start(1, FAKE_SSE, NULL, "max_conns = 1\nqueue_timeout = 1s\n");
    fd = hold_request();
    cr_assert(read_for(fd, buf, sizeof buf, "data: one"), "%s", buf);
    cr_assert_eq(get("/api/x", NULL, body), 503, "the one connection is busy: %s", daemon_log());
    cr_assert(strlen(body) > 0 && strlen(body) < 100, "a short body: '%s'", body);
    cr_assert(file_wait_for(d.log, "stayed at max_conns for queue_timeout", HARNESS_WAIT_MS),
              "logged");
    atomic_store(&ups[0].sse_go, 1);
    cr_assert(read_for(fd, buf, sizeof buf, "0\r\n\r\n"), "%s", buf);
    get_ok(1, NULL);
    close(fd);
}

static void *get_thread(void *arg)
{
    *(long *)arg = get("/api/x", NULL, NULL);
    return NULL;
}

Test(proxy_balance, a_request_queued_for_max_conns_goes_when_one_is_free)
{
    char buf[4096] = "";
    pthread_t th;
    long status = 0;
    int fd;

    server_keys = "log_level = debug\n";
    start(1, FAKE_SSE, NULL, "max_conns = 1\nqueue_timeout = 60s\n");
    fd = hold_request();
    cr_assert(read_for(fd, buf, sizeof buf, "data: one"), "%s", buf);
    cr_assert_eq(pthread_create(&th, NULL, get_thread, &status), 0);
    cr_assert(file_wait_for(d.log, "queued: every upstream left is at max_conns", HARNESS_WAIT_MS),
              "%s", daemon_log());
    atomic_store(&ups[0].sse_go, 1);
    cr_assert(read_for(fd, buf, sizeof buf, "0\r\n\r\n"), "%s", buf);
    pthread_join(th, NULL);
    cr_assert_eq(status, 200, "%s", daemon_log());
    cr_assert_eq(atomic_load(&ups[0].accepted), 1, "it waited for the one connection: %s",
                 counts());
    close(fd);
}

/* Stops the daemon (which flushes its access log) and returns the log. */
static char *stop_and_read_access_log(void)
{
    char path[400];
    long until = now_ms() + 15000;
    int status = 0;

    cr_assert_eq(kill(d.pid, SIGTERM), 0);
    while (waitpid(d.pid, &status, WNOHANG) == 0 && now_ms() < until)
        usleep(10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon did not stop cleanly: %s",
              daemon_log());
    d.pid = 0;
    snprintf(path, sizeof path, "%s/access.log", d.dir);
    return file_slurp(path);
}

Test(proxy_balance, a_queued_request_whose_client_leaves_leaves_the_queue_at_once)
{
    static const char req[] = "GET /api/leaving HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[4096] = "", *log, *line;
    int fd, leaving;

    server_keys = "log_level = debug\naccess_log = access.log\naccess_log_format = json\n";
    start(1, FAKE_SSE, NULL, "max_conns = 1\nqueue_timeout = 60s\n");
    fd = hold_request();
    cr_assert(read_for(fd, buf, sizeof buf, "data: one"), "%s", buf);
    leaving = tcp_connect(d.port);
    cr_assert(tcp_send_all(leaving, req, sizeof req - 1));
    cr_assert(file_wait_for(d.log, "queued: every upstream left is at max_conns", 15000), "%s",
              daemon_log());
    close(leaving);
    /* The one upstream connection is still busy: only the client's leaving
     * can end the wait now. */
    cr_assert(file_wait_for(d.log, "/api/leaving: the client left while queued", 15000),
              "the queued request did not notice its client leaving: %s", daemon_log());
    atomic_store(&ups[0].sse_go, 1);
    cr_assert(read_for(fd, buf, sizeof buf, "0\r\n\r\n"), "%s", buf);
    close(fd);
    cr_assert_eq(atomic_load(&ups[0].accepted), 1, "%s", counts());
    log = stop_and_read_access_log();
    line = strstr(log, "/api/leaving");
    cr_assert(line, "no access log line for the request that left: %s", log);
    if (strchr(line, '\n'))
        *strchr(line, '\n') = '\0';
    cr_assert(strstr(line, "\"status\":499"), "not logged as 499: %s", line);
    free(log);
}

/* The load of the kill test: clients that GET until told to stop. */
struct load {
    _Atomic int seq; /* requests begun */
    _Atomic int stop;
    _Atomic long marker;       /* requests begun after this one must succeed */
    _Atomic long late_errors;  /* failures of those */
    _Atomic long early_errors; /* failures before it */
    char first_late[128];
};

static void *load_thread(void *arg)
{
    struct load *l = arg;

    for (int i = 0; i < 5000 && !atomic_load(&l->stop); i++) {
        long marker = atomic_load(&l->marker);
        long seq = atomic_fetch_add(&l->seq, 1);
        long status = get("/api/x", NULL, NULL);

        if (status == 200)
            continue;
        if (marker >= 0 && seq > marker) {
            if (atomic_fetch_add(&l->late_errors, 1) == 0)
                snprintf(l->first_late, sizeof l->first_late, "request %ld: %ld", seq, status);
        } else {
            atomic_fetch_add(&l->early_errors, 1);
        }
    }
    return NULL;
}

Test(proxy_balance, killing_one_of_three_upstreams_under_load)
{
    static struct load l;
    pthread_t th[4];
    int marker;
    bool seen, more;

    memset(&l, 0, sizeof l);
    atomic_store(&l.marker, -1);
    start(3, FAKE_OK, NULL, "max_fails = 1\nfail_timeout = 60s\n");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, load_thread, &l), 0);
    seen = wait_count(&l.seq, 100, 60000);
    if (seen) {
        fake_kill(&ups[1]);
        /* the traffic itself finds the dead one: its first failure takes it out */
        seen = file_wait_for(d.log, "skipped for 60000 ms", HARNESS_WAIT_MS);
    }
    marker = atomic_load(&l.seq);
    atomic_store(&l.marker, marker);
    more = wait_count(&l.seq, marker + 400, 60000);
    atomic_store(&l.stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_assert(seen, "the dead upstream was taken out: %s", daemon_log());
    cr_assert(more, "the load went on: %d requests", atomic_load(&l.seq));
    cr_assert_eq(atomic_load(&l.late_errors), 0,
                 "after the dead upstream was taken out, %ld of %d requests failed (first: %s); "
                 "%ld before",
                 atomic_load(&l.late_errors), atomic_load(&l.seq) - marker, l.first_late,
                 atomic_load(&l.early_errors));
    cr_assert_eq(atomic_load(&l.early_errors), 0,
                 "retries on another upstream hid even the first failures");
}

/* Runs cohttpd with args and -c on d's config; its exit status, what it
 * printed in out. */
static int cohttpd_cli(char *out, size_t cap, const char *args)
{
    return run_cmd(out, cap, "'%s' %s -c '%s' 2>&1", cohttpd_bin(), args, d.config);
}

Test(proxy_balance, route_and_T_print_the_balancing)
{
    char text[4096];

    daemon_prepare(&d, "[proxy /api/]\nupstream = 127.0.0.1:9000 127.0.0.1:9001*2\n"
                       "balance = hash\nhash_key = header:X-User\nmax_fails = 3\n"
                       "retry_timeout = 20s\nmax_conns = 8\n");
    cr_assert_eq(cohttpd_cli(text, sizeof text, "--route 'GET http://h/api/x'"), 0, "%s", text);
    cr_assert(strstr(text, "balance: hash on header X-User\n"), "%s", text);
    cr_assert_eq(cohttpd_cli(text, sizeof text, "-T"), 0, "%s", text);
    cr_assert(strstr(text, "balance = hash\n"), "%s", text);
    cr_assert(strstr(text, "hash_key = header:X-User\nmax_fails = 3\nfail_timeout = 10s\n"
                           "retries = 1\nretry_timeout = 20s\nmax_conns = 8\nqueue_timeout = 5s\n"),
              "%s", text);
    daemon_prepare(&d, "[proxy /api/]\nupstream = 127.0.0.1:9000\nbalance = least_conn\n");
    cr_assert_eq(cohttpd_cli(text, sizeof text, "--route 'GET http://h/api/x'"), 0, "%s", text);
    cr_assert(strstr(text, "balance: least_conn\n"), "%s", text);
}

Test(proxy_balance, a_bad_hash_key_is_a_config_error)
{
    char text[4096];

    /* the harness puts its [server] lines first: [proxy /api/] is line 4 */
    daemon_prepare(&d, "[proxy /api/]\nupstream = 127.0.0.1:9000\nbalance = fastest\n"
                       "hash_key = cookie:x\n");
    cr_assert_eq(cohttpd_cli(text, sizeof text, "-t"), 1, "%s", text);
    cr_assert(strstr(text, "cohttpd.ini:7: 'hash_key' must be client or header:NAME"), "%s", text);
    cr_assert(strstr(text, "cohttpd.ini:6: invalid value 'fastest' for 'balance' (expected "
                           "round_robin, least_conn, random_two or hash)"),
              "%s", text);
}

/* n GETs through the route: how many the FAKE_HEADERS upstream answered
 * (its body is the request head) while the FAKE_OK one answers "conn=". */
static int answered_by_headers(int n)
{
    int count = 0;

    for (int i = 0; i < n; i++) {
        char body[256];

        cr_assert_eq(get("/api/x", NULL, body), 200, "request %d: %s", i, daemon_log());
        count += strncmp(body, "GET /api/x ", 11) == 0;
    }
    return count;
}

Test(proxy_balance, active_checks_take_an_upstream_out_and_bring_it_back)
{
    char down[128], back[128];

    /* retries = 0 and max_fails = 0: only the checks keep requests away */
    start(2, FAKE_OK, NULL,
          "health_uri = /health\nhealth_interval = 100ms\nhealth_fails = 2\n"
          "retries = 0\nmax_fails = 0\nkeepalive = 0\n");
    atomic_store(&ups[0].mode, FAKE_HEADERS);
    cr_assert_gt(answered_by_headers(10), 0, "both answer at first");
    snprintf(down, sizeof down,
             "upstream 127.0.0.1:%u: health check of /health failed 2 times: out until it passes",
             ups[0].port);
    snprintf(back, sizeof back,
             "upstream 127.0.0.1:%u: health check of /health passed 1 time: back", ups[0].port);
    atomic_store(&ups[0].mode, FAKE_CLOSE);
    cr_assert(file_wait_for(d.log, down, HARNESS_WAIT_MS), "%s", down);
    cr_assert_eq(answered_by_headers(10), 0, "none to the one out");
    atomic_store(&ups[0].mode, FAKE_HEADERS);
    cr_assert(file_wait_for(d.log, back, HARNESS_WAIT_MS), "%s", back);
    cr_assert_gt(answered_by_headers(10), 0, "the one back answers again");
}

Test(proxy_balance, the_status_page_shows_each_upstream)
{
    char want[512], out[4096], file[400];
    char *text;

    start(2, FAKE_OK, NULL,
          "max_fails = 1\nfail_timeout = 60s\nkeepalive_timeout = 60s\n[status /status]\n");
    atomic_store(&ups[1].mode, FAKE_CLOSE);
    get_ok(4, NULL); /* the second fails once, is taken out, its request moves on */
    snprintf(file, sizeof file, "%s/status.json", d.dir);
    cr_assert_eq(
        run_cmd(out, sizeof out, "curl -sS -o '%s' http://127.0.0.1:%u/status 2>&1", file, d.port),
        0, "%s", out);
    text = file_slurp(file);
    snprintf(want, sizeof want,
             "\"upstreams\":{\"proxy /api/\":["
             "{\"address\":\"127.0.0.1:%u\",\"state\":\"up\",\"failures\":0,\"retries\":0,"
             "\"active\":0,\"idle\":1},"
             "{\"address\":\"127.0.0.1:%u\",\"state\":\"down\",\"failures\":1,\"retries\":1,"
             "\"active\":0,\"idle\":0}]}",
             ups[0].port, ups[1].port);
    cr_assert(strstr(text, want), "want %s\nin %s", want, text);
    free(text);
    snprintf(file, sizeof file, "%s/status.txt", d.dir);
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -o '%s' 'http://127.0.0.1:%u/status?format=prometheus' 2>&1",
                         file, d.port),
                 0, "%s", out);
    text = file_slurp(file);
    snprintf(want, sizeof want,
             "\ncohttpd_upstream_up{route=\"proxy /api/\",upstream=\"127.0.0.1:%u\"} 0\n",
             ups[1].port);
    cr_assert(strstr(text, want), "want %s\nin %s", want, text);
    snprintf(want, sizeof want,
             "\ncohttpd_upstream_idle_connections{route=\"proxy /api/\",upstream=\"127.0.0.1:%u\"} "
             "1\n",
             ups[0].port);
    cr_assert(strstr(text, want), "want %s\nin %s", want, text);
    free(text);
    if (run_cmd(NULL, 0, "command -v promtool >/dev/null") != 0)
        cr_assert_fail("promtool is missing (packaging/install-deps --test installs prometheus)");
    cr_assert_eq(run_cmd(out, sizeof out, "promtool check metrics < '%s' 2>&1", file), 0,
                 "promtool check metrics: %s", out);
}
