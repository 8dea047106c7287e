/* Integration: basic authentication with password files made by htpasswd and mkpasswd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define PAGE "members only\n"
#define HOW  "htpasswd -B"

static struct daemon d;

/* Runs a shell command that must succeed; fails the test with its output. */
static void must(const char *what, const char *cmd)
{
    char out[4096];

    cr_assert_eq(run_cmd(out, sizeof out, "%s 2>&1", cmd), 0, "%s failed: %s", what, out);
}

/* users: alice (bcrypt, htpasswd -B), bob (SHA-512-crypt), carol (yescrypt). */
static void write_users(const char *dir)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "htpasswd -bcB %s/users alice 'open sesame'", dir);
    must("htpasswd -B", cmd);
    snprintf(cmd, sizeof cmd, "printf 'bob:%%s\\n' \"$(mkpasswd -m sha-512 hunter2)\" >> %s/users",
             dir);
    must("mkpasswd -m sha-512", cmd);
    snprintf(cmd, sizeof cmd,
             "printf 'carol:%%s\\n' \"$(mkpasswd -m yescrypt s3cret)\" >> %s/users", dir);
    must("mkpasswd -m yescrypt", cmd);
}

static void start(void)
{
    daemon_prepare(&d, "[static /]\nroot = %ROOT%\nauth_basic = Members\nauth_basic_file = users\n"
                       "[static /pub/]\nroot = %ROOT%/pub\n");
    write_users(d.dir);
    site_write(&d, "index.html", PAGE, strlen(PAGE));
    site_write(&d, "pub/open.txt", "open\n", 5);
    daemon_start_prepared(&d, cohttpd_bin());
}

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0);
}

TestSuite(auth, .init = start, .fini = stop);

/* curl's status, headers and body for GET path with extra curl options. */
static int get(const char *opts, const char *path, char *out, size_t cap)
{
    int st = run_cmd(out, cap, "curl -sS -D - %s http://127.0.0.1:%u%s", opts, d.port, path);

    cr_assert_eq(st, 0, "curl failed: %s", out);
    return response_status(out);
}

static void assert_challenge(const char *opts)
{
    char out[4096], v[256];
    size_t len;
    const char *body;

    cr_assert_eq(get(opts, "/", out, sizeof out), 401, "%s: %s", opts, out);
    cr_assert_not_null(response_header(out, "WWW-Authenticate", v, sizeof v), "%s", out);
    cr_assert_str_eq(v, "Basic realm=\"Members\", charset=\"UTF-8\"");
    body = response_body(out, strlen(out), &len);
    cr_assert_not_null(body);
    cr_assert_eq(len, 17, "%s", out);
    cr_assert_eq(memcmp(body, "401 Unauthorized\n", 17), 0, "%s", out);
    cr_assert_null(strstr(out, PAGE), "the page leaked: %s", out);
}

Test(auth, right_credentials_of_each_hash_get_the_page)
{
    static const char *const users[] = {"alice:open sesame", "bob:hunter2", "carol:s3cret"};
    char out[4096], opt[128];

    for (size_t i = 0; i < 3; i++) {
        snprintf(opt, sizeof opt, "-u '%s'", users[i]);
        cr_assert_eq(get(opt, "/", out, sizeof out), 200, "%s: %s", users[i], out);
        cr_assert_not_null(strstr(out, "\r\n\r\n" PAGE), "%s: %s", users[i], out);
        /* the second request of the session (a cached check) still passes */
        cr_assert_eq(get(opt, "/index.html", out, sizeof out), 200, "%s again: %s", users[i], out);
    }
}

Test(auth, missing_credentials_get_the_challenge) { assert_challenge(""); }

Test(auth, wrong_password_is_refused_and_logged)
{
    char *log;

    assert_challenge("-u 'alice:open sesame!'");
    assert_challenge("-u 'bob:Hunter2'");
    assert_challenge("-u 'carol:'");
    cr_assert(file_wait_for(d.log, "wrong password: user 'alice' from 127.0.0.1", 15000), "%s",
              (log = file_slurp(d.log)));
    cr_assert(file_wait_for(d.log, "wrong password: user 'bob' from 127.0.0.1", 15000), "%s",
              (log = file_slurp(d.log)));
}

Test(auth, unknown_user_is_refused) { assert_challenge("-u 'mallory:open sesame'"); }

Test(auth, malformed_credentials_get_the_challenge)
{
    assert_challenge("-H 'Authorization: Basic !!!!'");
    assert_challenge("-H 'Authorization: Bearer abc'");
    assert_challenge("-H 'Authorization: Basic YWxpY2U='");         /* "alice": no colon */
    assert_challenge("-H 'Authorization: Basic YWxpY2U6AG9wZW4='"); /* a NUL inside */
    assert_challenge("-H 'Authorization: Basic'");
}

Test(auth, a_route_without_auth_stays_open)
{
    char out[4096];

    cr_assert_eq(get("", "/pub/open.txt", out, sizeof out), 200, "%s", out);
}

Test(auth, the_password_file_is_reloaded_on_sighup)
{
    char out[4096], cmd[600];
    long deadline;
    int st = 0;

    snprintf(cmd, sizeof cmd, "htpasswd -bB %s/users dave 'new member'", d.dir);
    must("htpasswd -B", cmd);
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    deadline = now_ms() + 30000;
    while (now_ms() < deadline && (st = get("-u 'dave:new member'", "/", out, sizeof out)) != 200)
        usleep(50000);
    cr_assert_eq(st, 200, "dave still refused after SIGHUP: %s\n%s", out, file_slurp(d.log));
    cr_assert_eq(get("-u 'alice:open sesame'", "/", out, sizeof out), 200, "%s", out);
}

/* ---- -t refuses the hashes cohttpd does not accept ---------------------- */

TestSuite(auth_conf, .fini = stop);

Test(auth_conf, unsupported_hashes_are_refused_with_their_line)
{
    char out[8192], cmd[1024];
    int st;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\nauth_basic_file = legacy\n");
    snprintf(cmd, sizeof cmd,
             "htpasswd -bc %s/legacy dave pw1 && htpasswd -bs %s/legacy erin pw2 && "
             "htpasswd -bp %s/legacy frank pw3",
             d.dir, d.dir, d.dir);
    must("htpasswd", cmd);
    st = run_cmd(out, sizeof out, "%s -t -c %s 2>&1", cohttpd_bin(), d.config);
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "/legacy:1: user 'dave' has an Apache MD5 ($apr1$) hash"), "%s",
                       out);
    cr_assert_not_null(strstr(out, "/legacy:2: user 'erin' has an unsalted SHA-1 ({SHA}) hash"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "/legacy:3: user 'frank' has plain text"), "%s", out);
    cr_assert_not_null(strstr(out, HOW), "%s", out);
    /* and the daemon does not start with it either */
    st = run_cmd(out, sizeof out, "timeout 20 %s -c %s 2>&1", cohttpd_bin(), d.config);
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "/legacy:1:"), "%s", out);
    d.pid = 0;
    run_cmd(NULL, 0, "rm -rf %s", d.dir);
}

Test(auth_conf, route_explains_the_authentication)
{
    char out[8192];
    int st;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\nauth_basic = Staff\nauth_basic_file = users\n");
    write_users(d.dir);
    st = run_cmd(out, sizeof out, "%s --route 'GET http://localhost/x' -c %s 2>&1; %s -T -c %s",
                 cohttpd_bin(), d.config, cohttpd_bin(), d.config);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "auth: basic, realm \"Staff\", 3 users from "), "%s", out);
    cr_assert_not_null(strstr(out, "auth_basic = Staff\n"), "%s", out);
    cr_assert_not_null(strstr(out, "auth_basic_file = /"), "%s", out);
    run_cmd(NULL, 0, "rm -rf %s", d.dir);
}

/* ---- hash checks run beside static requests ------------------------------ */

#define N_CHECKS    100
#define MAX_STATICS 200000

TestSuite(auth_load, .fini = stop);

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

/* Sends N_CHECKS requests, each with another wrong password for a bcrypt
 * user (cost 8), on their own connections; returns them in fds. */
static void send_checks(int *fds)
{
    char *lines = malloc(N_CHECKS * 64), *p, req[256];
    int st = run_cmd(lines, N_CHECKS * 64,
                     "for i in $(seq %d); do printf 'alice:wrong-%%s' $i | base64 -w0; echo; done",
                     N_CHECKS);

    cr_assert_eq(st, 0);
    p = lines;
    for (int i = 0; i < N_CHECKS; i++) {
        char *nl = strchr(p, '\n');
        int n;

        cr_assert_not_null(nl, "base64 gave too few lines: %s", lines);
        *nl = '\0';
        n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nConnection: "
                     "close\r\n\r\n",
                     p);
        fds[i] = tcp_connect(d.port);
        cr_assert_geq(fds[i], 0);
        cr_assert(tcp_send_all(fds[i], req, (size_t)n));
        p = nl + 1;
    }
    free(lines);
}

/* Collects the answers that arrived on fds (closing each); returns how many
 * are in so far and fails on an answer other than 401. */
static int collect_checks(int *fds, int done)
{
    struct pollfd pf[N_CHECKS];

    for (int i = 0; i < N_CHECKS; i++)
        pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    if (poll(pf, N_CHECKS, 0) <= 0)
        return done;
    for (int i = 0; i < N_CHECKS; i++) {
        size_t len;
        char *buf;

        if (fds[i] < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
            continue;
        buf = read_responses(fds[i], 1, 10000, &len);
        cr_assert_eq(response_status(buf), 401, "check %d: %s", i, buf);
        free(buf);
        close(fds[i]);
        fds[i] = -1;
        done++;
    }
    return done;
}

Test(auth_load, bcrypt_checks_leave_static_requests_on_the_same_worker_alone)
{
    static long lat_us[MAX_STATICS];
    static const char sreq[] = "GET /pub/open.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    int fds[N_CHECKS], done = 0, sfd, n = 0, during = 0;
    long deadline;
    char out[4096];

    daemon_prepare(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[static /]\nroot = %ROOT%\n"
                       "auth_basic_file = users\n[static /pub/]\nroot = %ROOT%/pub\n");
    snprintf(out, sizeof out, "htpasswd -bcB -C 8 %s/users alice 'open sesame'", d.dir);
    must("htpasswd -B -C 8", out);
    site_write(&d, "index.html", PAGE, strlen(PAGE));
    site_write(&d, "pub/open.txt", "open\n", 5);
    daemon_start_prepared(&d, cohttpd_bin());
    send_checks(fds);
    sfd = tcp_connect(d.port);
    deadline = now_ms() + 180000;
    while (done < N_CHECKS && n < MAX_STATICS && now_ms() < deadline) {
        struct timespec a, b;
        size_t len;
        char *buf;

        clock_gettime(CLOCK_MONOTONIC, &a);
        cr_assert(tcp_send_all(sfd, sreq, sizeof sreq - 1));
        buf = read_responses(sfd, 1, 30000, &len);
        clock_gettime(CLOCK_MONOTONIC, &b);
        cr_assert_eq(response_status(buf), 200, "static request %d: %s", n, buf);
        free(buf);
        lat_us[n++] = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
        done = collect_checks(fds, done);
        if (done < N_CHECKS)
            during++;
        usleep(1000); /* a client at a steady pace, leaving the CPU to the checks */
    }
    cr_assert_eq(done, N_CHECKS, "only %d of %d checks answered: %s", done, N_CHECKS,
                 file_slurp(d.log));
    /* static answers kept coming while the hash checks were under way */
    cr_assert_geq(during, 1, "no static answer while %d checks ran", N_CHECKS);
    qsort(lat_us, (size_t)n, sizeof lat_us[0], cmp_long);
    fprintf(stderr,
            "auth_load: %d static requests while %d bcrypt checks ran: p50 %ld us, p99 %ld us, "
            "max %ld us\n",
            n, N_CHECKS, lat_us[n / 2], lat_us[n * 99 / 100], lat_us[n - 1]);
    close(sfd);
    cr_assert_eq(get("-u 'alice:open sesame'", "/", out, sizeof out), 200, "%s", out);
}
