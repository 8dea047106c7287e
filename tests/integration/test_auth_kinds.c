/* Integration: basic authentication on CGI and proxy routes, from [server], and turned off. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "proxy_fake.h"
#include "test_cgi_util.h"

static struct daemon d;
static struct fake up;

/* Runs a shell command that must succeed; fails the test with its output. */
static void must(const char *what, const char *cmd)
{
    char out[4096];

    cr_assert_eq(run_cmd(out, sizeof out, "%s 2>&1", cmd), 0, "%s failed: %s", what, out);
}

/* [server] sets the default every route takes; /pub/ turns it off, /staff/
 * names its own realm over [server]'s file, /cgi-bin/ and /api/ inherit. */
static void start(void)
{
    char ini[2048], cmd[1024];

    fake_start(&up, FAKE_HEADERS);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 2\n"
             "auth_basic = Site\nauth_basic_file = users\n"
             "[static /]\nroot = %%ROOT%%\n"
             "[static /pub/]\nroot = %%ROOT%%/pub\nauth_basic = off\n"
             "[static /staff/]\nroot = %%ROOT%%/staff\nauth_basic = Staff\n"
             "[cgi /cgi-bin/]\nroot = %%ROOT%%/cgi-bin\n"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\n",
             up.port);
    daemon_prepare(&d, ini);
    snprintf(cmd, sizeof cmd, "printf 'bob:%%s\\n' \"$(mkpasswd -m sha-512 hunter2)\" > %s/users",
             d.dir);
    must("mkpasswd -m sha-512", cmd);
    site_write(&d, "index.html", "home\n", 5);
    site_write(&d, "pub/open.txt", "open\n", 5);
    site_write(&d, "staff/list.txt", "staff\n", 6);
    cgi_script_at(&d, "cgi-bin/env.sh",
                  "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                  "echo \"auth_type=$AUTH_TYPE\"\necho \"remote_user=$REMOTE_USER\"\n"
                  "echo \"authorization=${HTTP_AUTHORIZATION-unset}\"\n");
    daemon_start_prepared(&d, cohttpd_bin());
}

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0);
    fake_kill(&up);
}

TestSuite(auth_kinds, .init = start, .fini = stop);

/* curl's status, headers and body for GET path with extra curl options. */
static int get(const char *opts, const char *path, char *out, size_t cap)
{
    int st = run_cmd(out, cap, "curl -sS -D - %s http://127.0.0.1:%u%s", opts, d.port, path);

    cr_assert_eq(st, 0, "curl failed: %s", out);
    return response_status(out);
}

/* path answers 401 with realm's challenge without credentials and with a
 * wrong password. */
static void assert_refused(const char *path, const char *realm)
{
    char out[8192], v[256], want[256];

    snprintf(want, sizeof want, "Basic realm=\"%s\", charset=\"UTF-8\"", realm);
    cr_assert_eq(get("", path, out, sizeof out), 401, "%s: %s", path, out);
    cr_assert_not_null(response_header(out, "WWW-Authenticate", v, sizeof v), "%s", out);
    cr_assert_str_eq(v, want, "%s", out);
    cr_assert_eq(get("-u bob:wrong", path, out, sizeof out), 401, "%s: %s", path, out);
}

Test(auth_kinds, a_cgi_script_sees_the_user_and_never_the_password)
{
    char out[8192];

    assert_refused("/cgi-bin/env.sh", "Site");
    cr_assert_eq(get("-u bob:hunter2", "/cgi-bin/env.sh", out, sizeof out), 200, "%s", out);
    cr_assert_not_null(strstr(out, "auth_type=Basic\n"), "%s", out);
    cr_assert_not_null(strstr(out, "remote_user=bob\n"), "%s", out);
    cr_assert_not_null(strstr(out, "authorization=unset\n"), "%s", out);
    cr_assert_null(strstr(out, "aHVudGVyMg"), "the password reached the script: %s", out);
}

Test(auth_kinds, an_upstream_gets_the_clients_authorization_after_the_check)
{
    char out[8192];

    assert_refused("/api/x", "Site");
    cr_assert_eq(up.accepted, 0, "a refused request reached the upstream");
    cr_assert_eq(get("-u bob:hunter2", "/api/x", out, sizeof out), 200, "%s", out);
    /* FAKE_HEADERS answers with the request head it received */
    cr_assert_not_null(strstr(out, "GET /api/x HTTP/1.1"), "%s", out);
    cr_assert_not_null(strstr(out, "Authorization: Basic Ym9iOmh1bnRlcjI="), "%s", out);
}

Test(auth_kinds, static_routes_inherit_the_server_default)
{
    char out[8192];

    assert_refused("/", "Site");
    cr_assert_eq(get("-u bob:hunter2", "/", out, sizeof out), 200, "%s", out);
    cr_assert_not_null(strstr(out, "\r\n\r\nhome\n"), "%s", out);
}

Test(auth_kinds, a_route_names_its_own_realm_over_the_server_file)
{
    char out[8192];

    assert_refused("/staff/list.txt", "Staff");
    cr_assert_eq(get("-u bob:hunter2", "/staff/list.txt", out, sizeof out), 200, "%s", out);
    cr_assert_not_null(strstr(out, "\r\n\r\nstaff\n"), "%s", out);
}

Test(auth_kinds, auth_basic_off_opens_a_route)
{
    char out[8192];

    cr_assert_eq(get("", "/pub/open.txt", out, sizeof out), 200, "%s", out);
    cr_assert_null(strstr(out, "WWW-Authenticate"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\n\r\nopen\n"), "%s", out);
}

Test(auth_kinds, dry_runs_show_and_explain_it)
{
    char out[16384];
    int st;

    st = run_cmd(out, sizeof out,
                 "%s --route 'GET http://localhost/cgi-bin/env.sh' -c %s 2>&1; "
                 "%s --route 'GET http://localhost/pub/open.txt' -c %s 2>&1; "
                 "%s --route 'GET http://localhost/staff/list.txt' -c %s 2>&1; %s -T -c %s",
                 cohttpd_bin(), d.config, cohttpd_bin(), d.config, cohttpd_bin(), d.config,
                 cohttpd_bin(), d.config);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "auth: basic, realm \"Site\", 1 users from "), "%s", out);
    cr_assert_not_null(strstr(out, "([server]'s lines; 401"), "%s", out);
    cr_assert_not_null(strstr(out, "auth: none (auth_basic = off here"), "%s", out);
    cr_assert_not_null(strstr(out, "auth: basic, realm \"Staff\", 1 users from "), "%s", out);
    cr_assert_not_null(strstr(out, "auth_basic = Site\nauth_basic_file = /"), "%s", out);
    cr_assert_not_null(strstr(out, "[static /pub/]\n"), "%s", out);
    cr_assert_not_null(strstr(strstr(out, "[static /pub/]\n"), "auth_basic = off\n"), "%s", out);
}
