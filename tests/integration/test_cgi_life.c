/* Integration: a CGI script's life beside cohttpd's: a daemon killed outright, a client that
 * leaves, the access log's account of the run, a reload while scripts run. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test_cgi_util.h"

static struct daemon d;

/* One worker (so that every request sees the same generation at once), a
 * JSON access log in the daemon's directory, and an env line a reload
 * changes. */
#define LIFE_INI                                                                                   \
    "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = access.log\n"                       \
    "access_log_format = json\n[limits]\nshutdown_timeout = 1s\n"                                  \
    "[cgi /cgi-bin/]\nroot = %s/cgi-bin\nenv = CGI_GEN=%s\n[static /]\nroot = %s\n"                \
    "[cgi /quick/]\nroot = %s/cgi-bin\ntimeout = 1s\n[status /status]\n"                           \
    "[cgi /xs/]\nroot = %s/cgi-bin\nx_sendfile = %s\n"

static void start(void)
{
    char ini[2048];

    snprintf(ini, sizeof ini, LIFE_INI, "%ROOT%", "A", "%ROOT%", "%ROOT%", "%ROOT%", "%ROOT%");
    daemon_start_with_dir(&d, ini, "cgi-bin");
}

/* The safety net: whatever a test left, no script outlives the suite. */
static void finish(void) { daemon_kill(&d); }

TestSuite(cgi_life, .init = start, .fini = finish);

/* A script that appends its process group's id to ../started.txt, then
 * sleeps in two children of its own group. */
static const char sleeper[] = "#!/bin/sh\necho $$ >> ../started.txt\nsleep 60\nsleep 60\n";

static int send_request(const char *target)
{
    char req[512];
    int fd = tcp_connect(d.port), n;

    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 target);
    cr_assert(tcp_send_all(fd, req, (size_t)n));
    return fd;
}

/* Waits for n lines in ../started.txt and reads them into pgids. */
static void started(pid_t *pgids, int n)
{
    char path[600], *text, *p;

    snprintf(path, sizeof path, "%s/started.txt", d.root);
    cr_assert_eq(cgi_wait_lines(path, n), n, "not every script started: %s", file_slurp(d.log));
    text = file_slurp(path);
    p = text;
    for (int i = 0; i < n; i++) {
        pgids[i] = (pid_t)strtol(p, &p, 10);
        cr_assert_gt(pgids[i], 1, "%s", text);
    }
    free(text);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* The line of text holding needle, copied to out. */
static const char *line_with(const char *text, const char *needle, char *out, size_t cap)
{
    const char *at = strstr(text, needle), *start, *end;

    cr_assert_not_null(at, "no line with %s in:\n%s", needle, text);
    for (start = at; start > text && start[-1] != '\n'; start--)
        ;
    end = strchr(at, '\n');
    snprintf(out, cap, "%.*s", (int)(end ? end - start : (long)strlen(start)), start);
    return out;
}

/* Stops the daemon with SIGTERM (which writes the access log out) and
 * returns the access log (malloc'd); the directory stays for finish(). */
static char *stop_and_read_log(void)
{
    char path[600];
    int status = 0;
    long until = now_ms() + 10000;

    cr_assert_eq(kill(d.pid, SIGTERM), 0);
    while (waitpid(d.pid, &status, WNOHANG) == 0 && now_ms() < until)
        usleep(10000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon did not stop cleanly: %s",
              file_slurp(d.log));
    d.pid = 0;
    snprintf(path, sizeof path, "%s/access.log", d.dir);
    return file_slurp(path);
}

/* Whether pgid is listed in the table pid shares with its CGI guard (the
 * memfd "cohttpd-cgi-guard", read through /proc/PID/fd). */
static bool guard_lists(pid_t pid, pid_t pgid)
{
    enum { SLOTS = 65536 }; /* GUARD_SLOTS in cgi_guard.c */
    char dir[64], path[600], target[256];
    int32_t *table = malloc(SLOTS * sizeof *table);
    struct dirent *e;
    bool found = false;
    DIR *fds;

    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    cr_assert_not_null(table);
    cr_assert_not_null(fds = opendir(dir), "%s: %s", dir, strerror(errno));
    while (!found && (e = readdir(fds))) {
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        n = readlink(path, target, sizeof target - 1);
        if (n < 0 || (target[n] = '\0', !strstr(target, "memfd:cohttpd-cgi-guard")))
            continue;
        if ((fd = open(path, O_RDONLY)) < 0)
            continue;
        n = pread(fd, table, SLOTS * sizeof *table, 0);
        for (ssize_t k = 0; k < n / (ssize_t)sizeof *table && !found; k++)
            found = table[k] == (int32_t)pgid;
        close(fd);
    }
    closedir(fds);
    free(table);
    return found;
}

/* Waits (10 s at most) until the guard lists pgid: a script is listed
 * just after its spawn returns, and a SIGKILL before that would leave it
 * out (cgi_guard.h). */
static void wait_guarded(pid_t pgid)
{
    long until = now_ms() + 10000;

    while (!guard_lists(d.pid, pgid) && now_ms() < until)
        usleep(10000);
    cr_assert(guard_lists(d.pid, pgid), "script group %d never listed for the guard:\n%s",
              (int)pgid, file_slurp(d.log));
}

Test(cgi_life, scripts_die_with_a_daemon_killed_by_sigkill)
{
    pid_t pgids[3];
    int fds[3], status;

    /* Orphans come to this process, which reaps them: PID 1 may not. */
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0, "%s", strerror(errno));
    cgi_script_at(&d, "cgi-bin/slow.sh", sleeper);
    for (int i = 0; i < 3; i++)
        fds[i] = send_request("/cgi-bin/slow.sh");
    started(pgids, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(kill(-pgids[i], 0), 0, "script group %d is running", (int)pgids[i]);
        wait_guarded(pgids[i]);
    }
    cr_assert_eq(kill(d.pid, SIGKILL), 0);
    cr_assert_eq(waitpid(d.pid, &status, 0), d.pid);
    d.pid = 0; /* finish() must not do the guard's work */
    for (int i = 0; i < 3; i++) {
        cr_assert(cgi_group_gone_within(pgids[i], true),
                  "script group %d outlived the daemon killed by SIGKILL; its stderr:\n%s",
                  (int)pgids[i], file_slurp(d.log));
        close(fds[i]);
    }
}

Test(cgi_life, a_client_that_leaves_is_logged_as_499_without_an_error)
{
    char line[4096], *log, *err;
    pid_t pgid;
    int fd;

    cgi_script_at(&d, "cgi-bin/slow.sh", sleeper);
    fd = send_request("/cgi-bin/slow.sh?leaving");
    started(&pgid, 1);
    close(fd);
    cr_assert(cgi_group_gone(pgid), "the script's group outlived its client");
    log = stop_and_read_log();
    line_with(log, "/cgi-bin/slow.sh?leaving", line, sizeof line);
    cr_assert(strstr(line, "\"status\":499") != NULL, "not logged as 499: %s", line);
    err = file_slurp(d.log);
    cr_assert(strstr(err, "sent no response") == NULL, "an error line for a client that left: %s",
              err);
    free(err);
    free(log);
}

Test(cgi_life, the_json_log_names_the_script_and_its_run_time)
{
    char out[256], path[600], want[700];
    char *log;

    cgi_script_at(&d, "cgi-bin/hi.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhi'\n");
    cr_assert_eq(
        run_cmd(out, sizeof out, "curl -sS 'http://127.0.0.1:%u/cgi-bin/hi.sh/x' 2>&1", d.port), 0,
        "%s", out);
    cr_assert_str_eq(out, "hi");
    log = stop_and_read_log();
    snprintf(path, sizeof path, "%s/line.json", d.dir);
    write_file(path, log);
    cr_assert_eq(
        run_cmd(out, sizeof out,
                "python3 -c 'import json, sys; o = json.loads(open(sys.argv[1]).readline()); "
                "t = o[\"upstream_time_us\"]; assert isinstance(t, int) and t > 0, t; "
                "print(o[\"upstream\"], o[\"status\"])' '%s' 2>&1",
                path),
        0, "not a JSON line with the script's fields: %s (%s)", log, out);
    snprintf(want, sizeof want, "%s/cgi-bin/hi.sh 200\n", d.root);
    cr_assert_str_eq(out, want, "%s", log);
    free(log);
}

/* The body a reload test's script sends: its generation, then 100,000 bytes. */
#define RELOAD_BODY_LEN 100006

Test(cgi_life, scripts_running_across_a_reload_finish_whole_and_new_ones_use_the_new_config)
{
    char ini[4096], fifo[600], out[256];
    pid_t pgids[3];
    int fds[3];

    cgi_script_at(&d, "cgi-bin/gen.sh",
                  "#!/bin/sh\necho $$ >> ../started.txt\nread line < ../go.fifo\n"
                  "printf 'Content-Type: text/plain\\nContent-Length: 100006\\n\\n'\n"
                  "printf 'gen=%s\\n' \"$CGI_GEN\"\nhead -c 100000 /dev/zero | tr '\\0' z\n");
    snprintf(fifo, sizeof fifo, "%s/go.fifo", d.root);
    cr_assert_eq(mkfifo(fifo, 0644), 0, "%s", strerror(errno));
    for (int i = 0; i < 3; i++)
        fds[i] = send_request("/cgi-bin/gen.sh");
    started(pgids, 3);
    snprintf(ini, sizeof ini, LIFE_INI, d.root, "B", d.root, d.root, d.root, d.root);
    write_file(d.config, ini);
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    cr_assert(file_wait_for(d.log, "(config generation 2)", 30000), "no reload: %s",
              file_slurp(d.log));
    cr_assert_eq(
        run_cmd(out, sizeof out, "cd '%s' && for i in 1 2 3; do echo; done > go.fifo", d.root), 0,
        "%s", out);
    for (int i = 0; i < 3; i++) {
        size_t len, body_len;
        char *resp = read_until_idle(fds[i], 10000, &len, &(bool){false});
        const char *body = response_body(resp, len, &body_len);

        cr_assert_eq(response_status(resp), 200, "script %d: %.300s", i, resp);
        cr_assert_not_null(body, "script %d: %.300s", i, resp);
        cr_assert_eq(body_len, RELOAD_BODY_LEN, "script %d's response was cut: %zu bytes", i,
                     body_len);
        cr_assert_eq(len, (size_t)(body - resp) + RELOAD_BODY_LEN, "script %d: more bytes", i);
        cr_assert(strncmp(body, "gen=A\n", 6) == 0, "started under the old configuration: %.20s",
                  body);
        free(resp);
        close(fds[i]);
    }
    /* A new request runs under the new configuration. */
    cr_assert_eq(run_cmd(out, sizeof out,
                         "(cd '%s' && echo > go.fifo) >/dev/null 2>&1 & "
                         "curl -sS 'http://127.0.0.1:%u/cgi-bin/gen.sh' 2>&1 | head -c 6",
                         d.root, d.port),
                 0, "%s", out);
    cr_assert_str_eq(out, "gen=B\n", "%s", file_slurp(d.log));
}

/* The status page (query: "format=prometheus" or "format=json") in out. */
static void status_page(char *out, size_t cap, const char *query)
{
    cr_assert_eq(run_cmd(out, cap, "curl -sS 'http://127.0.0.1:%u/status?%s' 2>&1", d.port, query),
                 0, "%s", out);
}

/* Waits (10 s at most) until the Prometheus page holds line. */
static bool status_shows(const char *line, char *page, size_t cap)
{
    for (long until = now_ms() + 10000;; usleep(20000)) {
        status_page(page, cap, "format=prometheus");
        if (strstr(page, line) || now_ms() >= until)
            return strstr(page, line) != NULL;
    }
}

Test(cgi_life, the_status_page_counts_running_and_killed_scripts)
{
    char page[16384], out[256], path[600];
    pid_t pgid;
    int fd;

    cgi_script_at(&d, "cgi-bin/slow.sh", sleeper);
    fd = send_request("/cgi-bin/slow.sh");
    started(&pgid, 1);
    cr_assert(status_shows("\ncohttpd_scripts_running 1\n", page, sizeof page), "%s", page);
    close(fd);
    cr_assert(cgi_group_gone(pgid), "the script's group outlived its client");
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -o /dev/null -w '%%{http_code}' "
                         "'http://127.0.0.1:%u/quick/slow.sh' 2>&1",
                         d.port),
                 0, "%s", out);
    cr_assert_str_eq(out, "504");
    cr_assert(status_shows("\ncohttpd_scripts_running 0\n", page, sizeof page), "%s", page);
    cr_assert(strstr(page, "\ncohttpd_scripts_killed_total{reason=\"timeout\"} 1\n"), "%s", page);
    cr_assert(strstr(page, "\ncohttpd_scripts_killed_total{reason=\"client_gone\"} 1\n"), "%s",
              page);
    snprintf(path, sizeof path, "%s/metrics.txt", d.dir);
    write_file(path, page);
    if (run_cmd(NULL, 0, "command -v promtool >/dev/null") != 0)
        cr_assert_fail("promtool is missing (packaging/install-deps --test installs prometheus)");
    cr_assert_eq(run_cmd(out, sizeof out, "promtool check metrics < '%s' 2>&1", path), 0,
                 "promtool check metrics: %s", out);
    status_page(page, sizeof page, "format=json");
    cr_assert(strstr(page, "\"scripts\":{\"running\":0,\"killed_timeout\":1,"
                           "\"killed_client_gone\":1}"),
              "%s", page);
}

/* A script at cgi-bin/NAME answering X-Sendfile: target (and other fields
 * that must not reach the client). */
static void xsendfile_script(const char *name, const char *target)
{
    char rel[256], text[1024];

    snprintf(rel, sizeof rel, "cgi-bin/%s", name);
    snprintf(text, sizeof text,
             "#!/bin/sh\nprintf 'X-Sendfile: %s\\nContent-Type: text/x-script\\n"
             "X-From-Script: yes\\n\\nscript body'\n",
             target);
    cgi_script_at(&d, rel, text);
}

Test(cgi_life, x_sendfile_serves_the_file_with_ranges_and_conditionals)
{
    char target[600], out[4096], etag[128], cmd_out[256];
    static char body[100000];

    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    site_write(&d, "files/big.txt", body, sizeof body);
    snprintf(target, sizeof target, "%s/files/big.txt", d.root);
    xsendfile_script("send.sh", target);
    /* The whole file, with the static handler's headers, not the script's. */
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -D - -o '%s/got.txt' 'http://127.0.0.1:%u/xs/send.sh' 2>&1 && "
                         "cmp '%s/got.txt' '%s' 2>&1 && echo same",
                         d.dir, d.port, d.dir, target),
                 0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "\r\nContent-Length: 100000\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nContent-Type: text/plain"), "%s", out);
    cr_assert(strstr(out, "\r\nAccept-Ranges: bytes\r\n"), "%s", out);
    cr_assert(strstr(out, "X-From-Script") == NULL, "a script's field went out: %s", out);
    cr_assert(strstr(out, "\nsame\n"), "the body is not the file: %s", out);
    cr_assert_not_null(response_header(out, "ETag", etag, sizeof etag), "%s", out);
    /* A range. */
    cr_assert_eq(
        run_cmd(out, sizeof out, "curl -sS -i -r 26-35 'http://127.0.0.1:%u/xs/send.sh'", d.port),
        0, "%s", out);
    cr_assert(strncmp(out, "HTTP/1.1 206 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "\r\nContent-Range: bytes 26-35/100000\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\n\r\nabcdefghij") && strlen(strstr(out, "\r\n\r\n")) == 14, "%s",
              out);
    /* A conditional GET. */
    cr_assert_eq(run_cmd(cmd_out, sizeof cmd_out,
                         "curl -sS -o /dev/null -w '%%{http_code}' -H 'If-None-Match: %s' "
                         "'http://127.0.0.1:%u/xs/send.sh'",
                         etag, d.port),
                 0, "%s", cmd_out);
    cr_assert_str_eq(cmd_out, "304");
}

/* GET path answers 502, and the error log says line. */
static void expect_502_logged(const char *path, const char *line)
{
    char out[256];

    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -o /dev/null -w '%%{http_code}' 'http://127.0.0.1:%u%s'", d.port,
                         path),
                 0, "%s", out);
    cr_assert_str_eq(out, "502", "%s", path);
    cr_assert(file_wait_for(d.log, line, 10000), "%s", file_slurp(d.log));
}

Test(cgi_life, x_sendfile_outside_its_directory_is_502_with_a_log_line)
{
    char target[600], out[256];

    xsendfile_script("passwd.sh", "/etc/passwd");
    snprintf(target, sizeof target, "%s/../cohttpd.ini", d.root);
    xsendfile_script("escape.sh", target);
    expect_502_logged("/xs/passwd.sh", "X-Sendfile /etc/passwd is not below x_sendfile");
    expect_502_logged("/xs/escape.sh", "leaves the x_sendfile directory");
    /* Without x_sendfile the field is the script's like any other. */
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -i 'http://127.0.0.1:%u/cgi-bin/passwd.sh' | tr -d '\\r'",
                         d.port),
                 0, "%s", out);
    cr_assert(strstr(out, "\nX-Sendfile: /etc/passwd\n") && strstr(out, "\n\nscript body"), "%s",
              out);
}
