/* Integration: the cgi route kind with shell scripts the tests write, through curl and raw sockets.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test_cgi_util.h"

static struct daemon d;

/* The route every test of the suite uses, below the site's root. */
#define CGI_INI                                                                                    \
    "[cgi /cgi-bin/]\nroot = %ROOT%/cgi-bin\nenv = CGI_TEST_LINE=from the route\n"                 \
    "[static /]\nroot = %ROOT%\n"

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

/* Writes an executable script below the site's cgi-bin. */
static void script(const char *name, const char *text)
{
    char rel[256];

    snprintf(rel, sizeof rel, "cgi-bin/%s", name);
    cgi_script_at(&d, rel, text);
}

/* Starts the daemon on ini after making dir/www/cgi-bin. */
static void start_with(const char *ini) { daemon_start_with_dir(&d, ini, "cgi-bin"); }

static void start(void) { start_with(CGI_INI); }

TestSuite(cgi, .init = start, .fini = stop);

/* curl's output for url below the daemon, with extra curl arguments. */
static int curl(char *out, size_t cap, const char *args, const char *path)
{
    return run_cmd(out, cap, "curl -sS %s 'http://127.0.0.1:%u%s' 2>&1", args, d.port, path);
}

static void expect_var(const char *env, const char *line)
{
    char needle[600];

    snprintf(needle, sizeof needle, "\n%s\n", line);
    cr_expect(strstr(env, needle) != NULL, "missing %s in:\n%s", line, env);
}

Test(cgi, a_script_gets_the_meta_variables)
{
    char out[16384], line[512];

    script("env.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho\nenv\n"
                     "echo \"cwd=$(pwd)\"\n");
    cr_assert_eq(curl(out, sizeof out,
                      "-H 'X-Custom-Thing: a b' -H 'Proxy: http://evil.example/' "
                      "-H 'Content-Type: text/x-test' --data-binary 12345",
                      "/cgi-bin/env.sh/a%20b/c%3Fd?x=1&y=%41"),
                 0, "%s", out);
    expect_var(out, "GATEWAY_INTERFACE=CGI/1.1");
    expect_var(out, "SCRIPT_NAME=/cgi-bin/env.sh");
    expect_var(out, "PATH_INFO=/a b/c?d");
    expect_var(out, "QUERY_STRING=x=1&y=%41");
    expect_var(out, "REQUEST_METHOD=POST");
    expect_var(out, "REQUEST_URI=/cgi-bin/env.sh/a%20b/c%3Fd?x=1&y=%41");
    expect_var(out, "CONTENT_LENGTH=5");
    expect_var(out, "CONTENT_TYPE=text/x-test");
    expect_var(out, "SERVER_PROTOCOL=HTTP/1.1");
    expect_var(out, "SERVER_NAME=127.0.0.1");
    expect_var(out, "SERVER_ADDR=127.0.0.1");
    expect_var(out, "REMOTE_ADDR=127.0.0.1");
    expect_var(out, "REDIRECT_STATUS=200");
    expect_var(out, "HTTP_X_CUSTOM_THING=a b");
    expect_var(out, "CGI_TEST_LINE=from the route");
    snprintf(line, sizeof line, "SERVER_PORT=%u", d.port);
    expect_var(out, line);
    snprintf(line, sizeof line, "SCRIPT_FILENAME=%s/cgi-bin/env.sh", d.root);
    expect_var(out, line);
    snprintf(line, sizeof line, "DOCUMENT_ROOT=%s/cgi-bin", d.root);
    expect_var(out, line);
    snprintf(line, sizeof line, "PATH_TRANSLATED=%s/cgi-bin/a b/c?d", d.root);
    expect_var(out, line);
    snprintf(line, sizeof line, "cwd=%s/cgi-bin", d.root);
    expect_var(out, line);
    cr_expect(strstr(out, "REMOTE_PORT=") != NULL, "%s", out);
    cr_expect(strstr(out, "SERVER_SOFTWARE=cohttpd/") != NULL, "%s", out);
    cr_expect(strstr(out, "\nPATH=") != NULL, "PATH is passed on: %s", out);
    cr_expect(strstr(out, "HTTP_PROXY") == NULL, "httpoxy: HTTP_PROXY was set: %s", out);
    cr_expect(strstr(out, "HTTP_CONTENT_") == NULL, "%s", out);
    cr_expect(strstr(out, "\nHOME=") == NULL, "the daemon's own environment leaked: %s", out);
}

Test(cgi, two_header_names_for_one_variable_are_refused)
{
    char out[4096];

    script("env.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv\n");
    cr_assert_eq(curl(out, sizeof out,
                      "-o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 10.0.0.1' "
                      "-H 'X_Forwarded_For: 10.6.6.6'",
                      "/cgi-bin/env.sh"),
                 0, "%s", out);
    cr_assert_str_eq(out, "400");
    cr_assert_eq(curl(out, sizeof out, "-H 'X-Twice: a' -H 'X-Twice: b'", "/cgi-bin/env.sh"), 0,
                 "%s", out);
    cr_assert(strstr(out, "HTTP_X_TWICE=a, b\n") != NULL, "a repeated field is joined: %s", out);
}

Test(cgi, the_lookup_answers_404_and_403)
{
    char out[256], path[700];
    static const struct {
        const char *path;
        const char *code;
    } cases[] = {
        {"/cgi-bin/", "404"},           {"/cgi-bin/sub", "404"},
        {"/cgi-bin/sub/", "404"},       {"/cgi-bin/missing", "404"},
        {"/cgi-bin/plain.txt", "403"},  {"/cgi-bin/.hidden", "404"},
        {"/cgi-bin/out/passwd", "404"}, {"/cgi-bin/sub/ok.sh/x", "200"},
    };

    script("sub/ok.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n");
    script(".hidden", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhidden'\n");
    site_write(&d, "cgi-bin/plain.txt", "text", 4);
    snprintf(path, sizeof path, "%s/cgi-bin/out", d.root);
    cr_assert_eq(symlink("/etc", path), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(curl(out, sizeof out, "-o /dev/null -w '%{http_code}'", cases[i].path), 0);
        cr_expect_str_eq(out, cases[i].code, "%s", cases[i].path);
    }
}

Test(cgi, route_says_which_script_and_path_info)
{
    char out[2048];

    script("sub/ok.sh", "#!/bin/sh\necho\n");
    cr_assert_eq(run_cmd(out, sizeof out,
                         "'%s' --route 'GET http://x/cgi-bin/sub/ok.sh/p/q' -c '%s'", cohttpd_bin(),
                         d.config),
                 0, "%s", out);
    cr_assert(strstr(out, "handler: cgi") != NULL, "%s", out);
    cr_assert(strstr(out, "/cgi-bin/sub/ok.sh\npath_info: /p/q\n") != NULL, "%s", out);
    cr_assert_eq(run_cmd(out, sizeof out, "'%s' -T -c '%s'", cohttpd_bin(), d.config), 0, "%s",
                 out);
    cr_assert(strstr(out, "\ntimeout = 30s\nidle_timeout = 30s\nmax_scripts = 64\n"
                          "env = CGI_TEST_LINE=from the route\n") != NULL,
              "-T prints every key of [cgi] with its default: %s", out);
}

/* Writes len pseudo-random bytes to path. */
static void random_file(const char *path, size_t len)
{
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f);
    for (size_t i = 0; i < len; i++)
        fputc((int)((i * 131 + i / 4093) & 0xff), f);
    cr_assert_eq(fclose(f), 0);
}

Test(cgi, ten_megabytes_go_up_and_down_at_once)
{
    char in[600], out[600], text[1024];

    script("cat.sh",
           "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\nexec cat\n");
    snprintf(in, sizeof in, "%s/in.bin", d.dir);
    snprintf(out, sizeof out, "%s/out.bin", d.dir);
    random_file(in, 10u << 20);
    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS --data-binary @'%s' -o '%s' -w '%%{http_code}' "
                         "http://127.0.0.1:%u/cgi-bin/cat.sh 2>&1",
                         in, out, d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, "200");
    cr_assert_eq(run_cmd(text, sizeof text, "cmp '%s' '%s' 2>&1", in, out), 0,
                 "the body came back changed: %s", text);
}

Test(cgi, a_script_may_write_ten_megabytes_before_reading_its_input)
{
    char in[600], out[600], text[1024];

    script("first.sh", "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\n"
                       "head -c 10485760 /dev/zero\nprintf 'read %s bytes\\n' $(wc -c)\n");
    snprintf(in, sizeof in, "%s/in.bin", d.dir);
    snprintf(out, sizeof out, "%s/out.bin", d.dir);
    random_file(in, 10u << 20);
    cr_assert_eq(
        run_cmd(text, sizeof text,
                "curl -sS --data-binary @'%s' -o '%s' -w '%%{http_code} %%{size_download}' "
                "http://127.0.0.1:%u/cgi-bin/first.sh 2>&1 && tail -c 20 '%s'",
                in, out, d.port, out),
        0, "%s", text);
    cr_assert_str_eq(text, "200 10485780read 10485760 bytes\n");
}

Test(cgi, status_location_and_other_headers)
{
    char out[4096];

    script("created.sh", "#!/bin/sh\nprintf 'Status: 201 Made\\r\\nContent-Type: text/plain\\r\\n"
                         "X-Thing: yes\\r\\nConnection: close\\r\\n\\r\\nmade'\n");
    script("away.sh", "#!/bin/sh\nprintf 'Location: https://example.org/x?y\\n\\n'\n");
    script("sized.sh",
           "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 5\\n\\nhello'\n");
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/created.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 201 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "\r\nX-Thing: yes\r\n") != NULL, "%s", out);
    cr_assert(strstr(out, "Connection: close") == NULL, "a hop-by-hop field passed: %s", out);
    cr_assert(strstr(out, "\r\n\r\nmade") != NULL, "%s", out);
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/away.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 302 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "\r\nLocation: https://example.org/x?y\r\n") != NULL, "%s", out);
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/sized.sh"), 0, "%s", out);
    cr_assert(strstr(out, "\r\nContent-Length: 5\r\n") != NULL, "%s", out);
    cr_assert(strstr(out, "Transfer-Encoding") == NULL, "%s", out);
    cr_assert(strstr(out, "\r\n\r\nhello") != NULL, "%s", out);
}

Test(cgi, a_bad_header_block_is_a_502_with_a_log_line)
{
    char out[4096], *log;
    static const char *const bodies[] = {
        "printf 'Content-Type: text/plain\\nBad Name: x\\n\\nbody'",
        "printf 'Content-Type: text/plain\\n folded\\n\\nbody'",
        "printf 'Content-Type: text/pl\\rain\\n\\nbody'",
        "printf 'Status: 99 Low\\n\\nbody'",
        "printf 'Status: 100 Continue\\n\\nbody'",
        "printf 'Content-Type: text/pl'; exit 3",
        "exit 0",
    };

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char name[32], text[512];

        snprintf(name, sizeof name, "bad%zu.sh", i);
        snprintf(text, sizeof text, "#!/bin/sh\n%s\n", bodies[i]);
        script(name, text);
        snprintf(text, sizeof text, "/cgi-bin/%s", name);
        cr_assert_eq(curl(out, sizeof out, "-i", text), 0, "%s", out);
        cr_expect(strncmp(out, "HTTP/1.1 502 ", 13) == 0, "%s: %s", bodies[i], out);
        cr_expect(strstr(out, "body") == NULL, "%s: %s", bodies[i], out);
    }
    cr_assert(file_wait_for(d.log, "cgi-bin/bad6.sh: the script ended before its header",
                            HARNESS_WAIT_MS),
              "%s", (log = file_slurp(d.log)));
    log = file_slurp(d.log);
    cr_assert(strstr(log, "cgi-bin/bad0.sh: a header line without a valid name") != NULL, "%s",
              log);
    free(log);
}

Test(cgi, a_short_body_closes_the_connection)
{
    char out[4096];
    int rc;

    script("short.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 50\\n\\nonly"
                       " this'\n");
    rc = curl(out, sizeof out, "-o /dev/null", "/cgi-bin/short.sh");
    cr_assert_eq(rc, 18, "curl should see a partial body (exit 18): %d %s", rc, out);
}

Test(cgi, a_stderr_flood_is_rate_limited)
{
    char out[256], *log;
    const char *p;
    int lines = 0;

    script("noisy.sh", "#!/bin/sh\ni=0\nwhile [ $i -lt 3000 ]; do echo \"noise $i\" >&2; "
                       "i=$((i+1)); done\nprintf 'Content-Type: text/plain\\n\\nquiet'\n");
    script("ok.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n");
    cr_assert_eq(curl(out, sizeof out, "", "/cgi-bin/noisy.sh"), 0, "%s", out);
    cr_assert_str_eq(out, "quiet");
    cr_assert_eq(curl(out, sizeof out, "", "/cgi-bin/ok.sh"), 0, "%s", out);
    cr_assert_str_eq(out, "ok");
    cr_assert(file_wait_for(d.log, "stderr lines not logged (rate limit)", HARNESS_WAIT_MS), "%s",
              file_slurp(d.log));
    log = file_slurp(d.log);
    cr_assert(strstr(log, "cgi-bin/noisy.sh: noise 0\n") != NULL, "%s", log);
    for (p = log; (p = strstr(p, "noisy.sh: noise ")); p++)
        lines++;
    cr_assert(lines > 0 && lines <= 200, "%d stderr lines logged", lines);
    free(log);
}

/* ---- limits: a suite whose route gives scripts one second ---- */

static void start_limited(void)
{
    start_with("[server]\nlisten = 127.0.0.1:0\nworkers = 1\n"
               "[cgi /cgi-bin/]\nroot = %ROOT%/cgi-bin\ntimeout = 2s\nidle_timeout = 2s\n");
}

TestSuite(cgi_limits, .init = start_limited, .fini = stop);

/* A script that writes its process group's id to pgid.txt, then sleeps. */
static const char sleeper[] = "#!/bin/sh\necho $$ > ../pgid.$1.tmp; mv ../pgid.$1.tmp ../pgid.txt\n"
                              "sleep 60\nsleep 60\n";

/* Waits for pgid.txt and returns the process group it names. */
static pid_t wait_pgid(void)
{
    char path[600], *text;
    pid_t pgid;

    snprintf(path, sizeof path, "%s/pgid.txt", d.root);
    cr_assert(file_wait_for(path, "\n", HARNESS_WAIT_MS), "the script did not start: %s",
              file_slurp(d.log));
    text = file_slurp(path);
    pgid = (pid_t)atoi(text);
    free(text);
    cr_assert_gt(pgid, 1);
    return pgid;
}

Test(cgi_limits, a_slow_script_gets_504_and_its_group_is_killed)
{
    char out[256];

    script("slow.sh", sleeper);
    cr_assert_eq(curl(out, sizeof out, "-o /dev/null -w '%{http_code}'", "/cgi-bin/slow.sh"), 0,
                 "%s", out);
    cr_assert_str_eq(out, "504");
    cr_assert(cgi_group_gone(wait_pgid()), "the script's process group is still there");
    cr_assert(file_wait_for(d.log, "slow.sh: no answer within 2000 ms", HARNESS_WAIT_MS), "%s",
              file_slurp(d.log));
}

/* ---- many scripts: one worker, the default timeouts ---- */

/* The default timeout (30 s) rather than cgi_limits' 2 s: a loaded machine
 * can take longer than that to start one script of ten thousand. */
static void start_one_worker(void)
{
    start_with(
        "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[cgi /cgi-bin/]\nroot = %ROOT%/cgi-bin\n");
}

TestSuite(cgi_many, .init = start_one_worker, .fini = stop);

Test(cgi_many, ten_thousand_requests_leave_no_zombie_and_no_descriptor)
{
    char out[256], fds_before[4096] = "", fds_after[4096] = "";
    int before;

    script("tiny.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nx'\necho err >&2\n");
    cr_assert_eq(curl(out, sizeof out, "-o /dev/null -w '%{http_code}'", "/cgi-bin/tiny.sh"), 0);
    cr_assert_str_eq(out, "200");
    /* The response may leave before its script is reaped: count once it is. */
    cr_assert(cgi_wait_no_script(d.pid), "the first script was never reaped");
    before = cgi_fds_listed(d.pid, false, fds_before, sizeof fds_before);
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -o /dev/null -w '%%{http_code}\\n' "
                         "'http://127.0.0.1:%u/cgi-bin/tiny.sh?[1-10000]' | sort | uniq -c",
                         d.port),
                 0, "%s", out);
    cr_assert(strstr(out, " 10000 200\n") != NULL, "%s", out);
    /* The last script is reaped right after its response left: a moment. */
    for (long until = now_ms() + HARNESS_WAIT_MS;
         (cgi_zombies_of(d.pid) > 0 || cgi_fd_count(d.pid) != before) && now_ms() < until;)
        usleep(10000);
    cr_assert_eq(cgi_zombies_of(d.pid), 0, "zombie children of the daemon");
    cr_assert_eq(cgi_fds_listed(d.pid, false, fds_after, sizeof fds_after), before,
                 "pipes, pidfds and temporary files before:\n%safter:\n%s", fds_before, fds_after);
}

Test(cgi, nph_scripts_write_their_own_head)
{
    char out[4096];

    script("nph-raw.sh",
           "#!/bin/sh\nprintf 'HTTP/1.0 299 Fine Thanks\\r\\nContent-Type: text/plain\\r\\n"
           "X-Nph: yes\\r\\n\\r\\nraw body'\n");
    script("nph-bad.sh", "#!/bin/sh\nprintf 'HTTP/1.1 200 OK\\r\\nX-Bad: a\\rb\\r\\n\\r\\nbody'\n");
    script("nph-short.sh", "#!/bin/sh\nprintf 'HTTP/1.1 200 OK\\r\\nX-A: b\\r\\n'\n");
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/nph-raw.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 299 Fine Thanks\r\n", 26) == 0, "%s", out);
    cr_assert(strstr(out, "\r\nX-Nph: yes\r\n") != NULL, "%s", out);
    cr_assert(strstr(out, "\r\nDate: ") != NULL, "cohttpd adds its own fields: %s", out);
    cr_assert(strstr(out, "\r\n\r\nraw body") != NULL, "%s", out);
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/nph-bad.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 502 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "X-Bad") == NULL, "%s", out);
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/nph-short.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 502 ", 13) == 0, "%s", out);
}

Test(cgi, a_chunked_body_is_collected_and_its_length_given)
{
    char in[600], out[600], text[1024];

    script("len.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                     "echo \"length=$CONTENT_LENGTH\"\nexec cat\n");
    snprintf(in, sizeof in, "%s/in.bin", d.dir);
    snprintf(out, sizeof out, "%s/out.bin", d.dir);
    random_file(in, 3u << 20);
    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS -H 'Transfer-Encoding: chunked' --data-binary @'%s' -o '%s' "
                         "-w '%%{http_code}' http://127.0.0.1:%u/cgi-bin/len.sh 2>&1",
                         in, out, d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, "200");
    cr_assert_eq(run_cmd(text, sizeof text,
                         "head -n 1 '%s'; tail -c +16 '%s' | cmp - '%s' 2>&1 && echo same", out,
                         out, in),
                 0, "%s", text);
    cr_assert_str_eq(text, "length=3145728\nsame\n");
}

Test(cgi, a_local_location_is_served_internally_as_a_get)
{
    char out[8192];

    site_write(&d, "page.txt", "static page\n", 12);
    script("to-static.sh", "#!/bin/sh\nprintf 'Location: /page.txt\\n\\n'\n");
    script("to-script.sh",
           "#!/bin/sh\ncat >/dev/null\nprintf 'Location: /cgi-bin/env.sh/p?q=2\\n\\n'\n");
    script("env.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho\nenv\n");
    script("loop.sh", "#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n");
    site_write(&d, ".env", "PASSWORD=x\n", 11);
    script("to-dotfile.sh", "#!/bin/sh\nprintf 'Location: /.env\\n\\n'\n");
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/to-dotfile.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 404 ", 13) == 0, "a dotfile stays hidden: %s", out);
    cr_assert(strstr(out, "PASSWORD") == NULL, "%s", out);
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/to-static.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "\r\n\r\nstatic page\n") != NULL, "%s", out);
    cr_assert(strstr(out, "Location") == NULL, "%s", out);
    cr_assert_eq(curl(out, sizeof out, "--data-binary posted", "/cgi-bin/to-script.sh"), 0, "%s",
                 out);
    expect_var(out, "REQUEST_METHOD=GET");
    expect_var(out, "SCRIPT_NAME=/cgi-bin/env.sh");
    expect_var(out, "PATH_INFO=/p");
    expect_var(out, "QUERY_STRING=q=2");
    cr_assert(strstr(out, "CONTENT_LENGTH") == NULL, "the GET has no body: %s", out);
    cr_assert_eq(curl(out, sizeof out, "-o /dev/null -w '%{http_code}'", "/cgi-bin/loop.sh"), 0,
                 "%s", out);
    cr_assert_str_eq(out, "500");
    cr_assert(file_wait_for(d.log, "loop.sh: more than 10 internal redirects", HARNESS_WAIT_MS),
              "%s", file_slurp(d.log));
}

/* ---- a route with the default timeouts (30 s): what ends a script
 * sooner is what the test does ---- */

static void start_shutdown(void)
{
    start_with("[limits]\nshutdown_timeout = 1s\n[cgi /cgi-bin/]\nroot = %ROOT%/cgi-bin\n"
               "max_scripts = 200\n[static /]\nroot = %ROOT%\n");
}

static void kill_daemon(void) { daemon_kill(&d); }

TestSuite(cgi_patient, .init = start_shutdown, .fini = kill_daemon);

Test(cgi_patient, a_stopping_daemon_kills_the_scripts_still_running)
{
    const char req[] = "GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd;
    pid_t pgid;

    script("slow.sh", sleeper);
    fd = tcp_connect(d.port);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    pgid = wait_pgid();
    cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly");
    cr_assert(cgi_group_gone(pgid), "the script outlived the daemon");
    close(fd);
}

Test(cgi_patient, a_client_that_leaves_takes_its_script_along)
{
    const char req[] = "GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd;

    script("slow.sh", sleeper);
    fd = tcp_connect(d.port);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    pid_t pgid = wait_pgid();
    close(fd);
    cr_assert(cgi_group_gone(pgid), "the script's process group outlived its client");
}

Test(cgi_patient, static_files_are_served_while_two_hundred_scripts_sleep)
{
    const char req[] = "GET /cgi-bin/nap.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char out[256], path[600];
    int fds[200];
    size_t len;

    script("nap.sh", "#!/bin/sh\necho x >> ../started.txt\nread line < ../go.fifo\n"
                     "printf 'Content-Type: text/plain\\n\\nwoke'\n");
    snprintf(path, sizeof path, "%s/go.fifo", d.root);
    cr_assert_eq(mkfifo(path, 0644), 0, "%s", strerror(errno));
    site_write(&d, "page.txt", "static page\n", 12);
    for (int i = 0; i < 200; i++) {
        fds[i] = tcp_connect(d.port);
        cr_assert(tcp_send_all(fds[i], req, sizeof req - 1));
    }
    snprintf(path, sizeof path, "%s/started.txt", d.root);
    for (long until = now_ms() + 3 * HARNESS_WAIT_MS; now_ms() < until; usleep(20000)) {
        char *text = file_slurp(path);

        len = strlen(text);
        free(text);
        if (len == 400)
            break;
    }
    cr_assert_eq(len, 400, "not every script started: %s", file_slurp(d.log));
    /* Every script waits on the fifo; the static route answers meanwhile. */
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(curl(out, sizeof out, "", "/page.txt"), 0, "%s", out);
        cr_assert_str_eq(out, "static page\n");
    }
    cr_assert_eq(
        run_cmd(out, sizeof out, "cd '%s' && for i in $(seq 200); do echo; done > go.fifo", d.root),
        0, "%s", out);
    for (int i = 0; i < 200; i++) {
        char *resp = read_until_idle(fds[i], HARNESS_WAIT_MS, &len, &(bool){false});

        cr_assert(strstr(resp, "\r\n\r\n4\r\nwoke\r\n0\r\n\r\n") != NULL, "script %d: %s", i, resp);
        free(resp);
        close(fds[i]);
    }
}

/* ---- max_scripts: one worker, two scripts at most, default timeouts ---- */

static void start_busy(void)
{
    start_with("[server]\nlisten = 127.0.0.1:0\nworkers = 1\n"
               "[cgi /cgi-bin/]\nroot = %ROOT%/cgi-bin\nmax_scripts = 2\n");
}

/* A graceful stop: the two held scripts, whose clients left, must be gone
 * with the daemon rather than sleep on under PID 1. */
TestSuite(cgi_busy, .init = start_busy, .fini = stop);

Test(cgi_busy, more_than_max_scripts_is_503_with_retry_after)
{
    const char req[] = "GET /cgi-bin/hold.sh HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[1024], path[600];
    int fd[2];

    script("hold.sh", "#!/bin/sh\necho x >> ../held.txt\nsleep 60\n");
    snprintf(path, sizeof path, "%s/held.txt", d.root);
    for (int i = 0; i < 2; i++) {
        fd[i] = tcp_connect(d.port);
        cr_assert(tcp_send_all(fd[i], req, sizeof req - 1));
    }
    cr_assert(file_wait_for(path, "x\nx\n", HARNESS_WAIT_MS), "%s", file_slurp(d.log));
    cr_assert_eq(curl(out, sizeof out, "-i", "/cgi-bin/hold.sh"), 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 503 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "\r\nRetry-After: 1\r\n") != NULL, "%s", out);
    close(fd[0]);
    close(fd[1]);
}
