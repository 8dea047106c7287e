/* Integration: the real client behind trusted_proxies, and allow/deny, through curl. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

static struct daemon d;
static struct fake up;
static char logdir[64]; /* outside the daemon's directory: it outlives daemon_stop */
static char logpath[128];

static void fini(void)
{
    daemon_kill(&d);
    fake_kill(&up);
    if (logdir[0])
        run_cmd(NULL, 0, "rm -rf '%s'", logdir);
}

TestSuite(client_addr, .fini = fini, .timeout = 120);
TestSuite(access, .fini = fini, .timeout = 120);

static const char addr_sh[] = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                              "echo \"REMOTE_ADDR=$REMOTE_ADDR REMOTE_PORT=$REMOTE_PORT\"\n";

/* Starts the daemon (one worker) with [server] extra, a CGI route, a
 * proxy route to a fake upstream that echoes the request head, a static
 * route, and the access log in logpath in format. */
static void start(const char *server_extra, const char *format, const char *routes_extra)
{
    char ini[4096];

    snprintf(logdir, sizeof logdir, "/tmp/cohttpd-client-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    snprintf(logpath, sizeof logpath, "%s/access.log", logdir);
    fake_start(&up, FAKE_HEADERS);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = %s\n"
             "access_log_format = %s\n%s\n"
             "[cgi /cgi-bin/]\nroot = %%ROOT%%/cgi-bin\n"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\n"
             "[static /]\nroot = %%ROOT%%\n%s",
             logpath, format, server_extra, up.port, routes_extra);
    daemon_start_with_dir(&d, ini, "cgi-bin");
    site_write(&d, "index.html", "home\n", 5);
    site_write_script(&d, "cgi-bin/addr.sh", addr_sh);
}

/* The last response curl saw (curl()). */
static struct curl_got got;

/* curl with extra arguments on path; the status (the response in got). */
static int curl(const char *args, const char *path) { return curl_fetch(&d, args, path, &got); }

/* Stops the daemon (which writes out its access log) and returns the log
 * (malloc'd); the daemon's stderr goes to err. */
static char *stop_and_read_log(char *err, size_t cap)
{
    char *text = file_slurp(d.log);

    snprintf(err, cap, "%s", text);
    free(text);
    cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly: %s", err);
    return file_slurp(logpath);
}

Test(client_addr, a_trusted_proxy_names_the_client_everywhere)
{
    char err[16384];
    char *log;

    start("trusted_proxies = 10.0.0.0/8 127.0.0.1", "combined", "");
    cr_assert_eq(curl("-H 'X-Forwarded-For: 198.51.100.7, 10.1.1.1'", "/"), 200);
    cr_assert_eq(curl("-H 'X-Forwarded-For: 203.0.113.9'", "/cgi-bin/addr.sh"), 200);
    cr_expect_str_eq(got.body, "REMOTE_ADDR=203.0.113.9 REMOTE_PORT=0\n");
    cr_assert_eq(curl("-H 'Forwarded: for=\"[2001:db8::5]:4711\";proto=https'", "/cgi-bin/addr.sh"),
                 200);
    cr_expect_str_eq(got.body, "REMOTE_ADDR=2001:db8::5 REMOTE_PORT=4711\n");
    /* The proxy appends to a trusted proxy's headers and keeps its proto. */
    cr_assert_eq(curl("-H 'X-Forwarded-For: 192.0.2.44' -H 'Forwarded: for=192.0.2.44' "
                      "-H 'X-Forwarded-Proto: https'",
                      "/api/x"),
                 200);
    cr_expect(strstr(got.body, "\r\nX-Forwarded-For: 192.0.2.44, 127.0.0.1\r\n"), "%s", got.body);
    cr_expect(strstr(got.body, "\r\nForwarded: for=192.0.2.44, for=127.0.0.1;"), "%s", got.body);
    cr_expect(strstr(got.body, "\r\nX-Forwarded-Proto: https\r\n"), "%s", got.body);
    /* Malformed from a trusted proxy: the proxy is the client, and it is said. */
    cr_assert_eq(curl("-H 'X-Forwarded-For: not-an-address'", "/cgi-bin/addr.sh"), 200);
    cr_expect(strncmp(got.body, "REMOTE_ADDR=127.0.0.1 ", 22) == 0, "%s", got.body);
    log = stop_and_read_log(err, sizeof err);
    cr_expect(strstr(log, "\n198.51.100.7 - - [") || strncmp(log, "198.51.100.7 - - [", 18) == 0,
              "the access log names the forwarded client:\n%s", log);
    cr_expect(strstr(log, "\n203.0.113.9 - - ["), "%s", log);
    cr_expect(strstr(log, "\n2001:db8::5 - - ["), "%s", log);
    cr_expect(strstr(log, "\n192.0.2.44 - - ["), "%s", log);
    cr_expect(strstr(err, "trusted proxy 127.0.0.1 sent a malformed X-Forwarded-For header"),
              "the daemon's stderr:\n%s", err);
    free(log);
}

Test(client_addr, an_untrusted_peer_cannot_name_a_client)
{
    char err[16384];
    char *log;

    start("trusted_proxies = 10.0.0.0/8", "json", "");
    cr_assert_eq(curl("-H 'X-Forwarded-For: 198.51.100.7'", "/"), 200);
    cr_assert_eq(curl("-H 'X-Forwarded-For: 198.51.100.7'", "/cgi-bin/addr.sh"), 200);
    cr_expect(strncmp(got.body, "REMOTE_ADDR=127.0.0.1 ", 22) == 0, "%s", got.body);
    cr_assert_eq(curl("-H 'X-Forwarded-For: 198.51.100.7' -H 'Forwarded: for=198.51.100.7' "
                      "-H 'X-Forwarded-Proto: https'",
                      "/api/x"),
                 200);
    cr_expect(strstr(got.body, "\r\nX-Forwarded-For: 127.0.0.1\r\n"), "%s", got.body);
    cr_expect(strstr(got.body, "\r\nForwarded: for=127.0.0.1;"), "%s", got.body);
    cr_expect(strstr(got.body, "\r\nX-Forwarded-Proto: http\r\n"), "%s", got.body);
    cr_expect_null(strstr(got.body, "198.51.100.7"), "replaced: %s", got.body);
    log = stop_and_read_log(err, sizeof err);
    cr_expect(strstr(log, "\"remote_addr\":\"127.0.0.1\""), "%s", log);
    cr_expect_null(strstr(log, "198.51.100.7"), "%s", log);
    cr_expect_null(strstr(err, "malformed"), "%s", err);
    free(log);
}

Test(client_addr, the_json_log_and_the_status_page_use_the_real_client)
{
    char err[16384];
    char *log;

    start("trusted_proxies = 127.0.0.1", "json",
          "[status /.well-known/cohttpd]\nallow = 127.0.0.1\n");
    cr_assert_eq(curl("", "/.well-known/cohttpd"), 200, "%s", got.body);
    cr_assert_eq(curl("-H 'X-Forwarded-For: 198.51.100.7'", "/.well-known/cohttpd"), 403,
                 "a forwarded client outside allow: %s", got.body);
    log = stop_and_read_log(err, sizeof err);
    cr_expect(strstr(log, "\"remote_addr\":\"198.51.100.7\""), "%s", log);
    free(log);
}

/* ---- allow / deny ---- */

/* The port of the [::1] listener in the daemon's stderr, or 0. */
static unsigned v6_port(void)
{
    char *log = file_slurp(d.log);
    const char *p = strstr(log, "[::1]:");
    unsigned port = p ? (unsigned)strtoul(p + 6, NULL, 10) : 0;

    free(log);
    return port;
}

/* curl from the source address src to host:port path; the status. */
static int curl_from(const char *src, const char *host, unsigned port, const char *path, char *out,
                     size_t cap)
{
    char code[64];
    int rc = run_cmd(code, sizeof code,
                     "curl -sS --interface %s -o /dev/null -w '%%{http_code}' "
                     "'http://%s:%u%s' 2>&1",
                     src, host, port, path);

    snprintf(out, cap, "%s", code);
    return rc == 0 ? atoi(code) : -rc;
}

Test(access, allow_and_deny_by_route_and_by_default_ipv4_and_ipv6)
{
    char out[256], err[16384];
    unsigned p6;
    char *log;

    start("listen = [::1]:0\ndeny = 127.0.0.2\n", "combined",
          "[static /open/]\nroot = %ROOT%\nallow = all\n"
          "[static /v6only/]\nroot = %ROOT%\nallow = ::1\n"
          "[static /mixed/]\nroot = %ROOT%\ndeny = 127.0.0.3\nallow = 127.0.0.0/8\n");
    p6 = v6_port();
    cr_assert_gt(p6, 0, "no [::1] listener in:\n%s", file_slurp(d.log));
    site_write(&d, "open/index.html", "open\n", 5);
    site_write(&d, "v6only/index.html", "v6\n", 3);
    site_write(&d, "mixed/index.html", "mixed\n", 6);
    /* [server]'s deny, inherited by [static /] */
    cr_expect_eq(curl_from("127.0.0.1", "127.0.0.1", d.port, "/", out, sizeof out), 200, "%s", out);
    cr_expect_eq(curl_from("127.0.0.2", "127.0.0.1", d.port, "/", out, sizeof out), 403, "%s", out);
    cr_expect_eq(curl_from("::1", "[::1]", p6, "/", out, sizeof out), 200, "%s", out);
    /* a route's own lines replace [server]'s */
    cr_expect_eq(curl_from("127.0.0.2", "127.0.0.1", d.port, "/open/", out, sizeof out), 200, "%s",
                 out);
    cr_expect_eq(curl_from("::1", "[::1]", p6, "/v6only/", out, sizeof out), 200, "%s", out);
    cr_expect_eq(curl_from("127.0.0.1", "127.0.0.1", d.port, "/v6only/", out, sizeof out), 403,
                 "%s", out);
    /* first match wins; an allow list refuses the rest */
    cr_expect_eq(curl_from("127.0.0.3", "127.0.0.1", d.port, "/mixed/", out, sizeof out), 403, "%s",
                 out);
    cr_expect_eq(curl_from("127.0.0.2", "127.0.0.1", d.port, "/mixed/", out, sizeof out), 200, "%s",
                 out);
    cr_expect_eq(curl_from("::1", "[::1]", p6, "/mixed/", out, sizeof out), 403, "%s", out);
    log = stop_and_read_log(err, sizeof err);
    cr_expect(strstr(err, "client 127.0.0.2 refused by the allow/deny lines of [static /]: 403"),
              "the daemon's stderr:\n%s", err);
    cr_expect(strstr(log, "127.0.0.2 - - ["), "%s", log);
    free(log);
}

Test(access, the_real_client_is_checked_behind_a_trusted_proxy)
{
    start("trusted_proxies = 127.0.0.1\ndeny = 192.0.2.0/24\n", "combined", "");
    cr_expect_eq(curl("", "/"), 200, "%s", got.body);
    cr_expect_eq(curl("-H 'X-Forwarded-For: 192.0.2.8'", "/"), 403, "%s", got.body);
    cr_expect_str_eq(got.body, "403 Forbidden\n");
    cr_expect_eq(curl("-H 'X-Forwarded-For: 198.51.100.8'", "/"), 200, "%s", got.body);
}
