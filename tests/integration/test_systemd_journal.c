/* Integration: error_log = journal and access_log = journal send structured
 * entries over the journal's native protocol. The test stands in for
 * journald: in a private mount namespace it mounts a tmpfs on /run and
 * receives what libsystemd sends to /run/systemd/journal/socket. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

static void cleanup(void) { daemon_kill(&d); }

TestSuite(journal, .fini = cleanup);

/* This process (and what it forks) gets its own empty /run: no journal
 * there; the host's /run is untouched. */
static void private_run(void)
{
    if (unshare(CLONE_NEWNS) < 0)
        cr_assert_eq(unshare(CLONE_NEWUSER | CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
    cr_assert_eq(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "%s", strerror(errno));
    cr_assert_eq(mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"), 0, "%s", strerror(errno));
}

/* A private /run with an empty journal socket the test reads. */
static int fake_journald(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    private_run();
    cr_assert_eq(mkdir("/run/systemd", 0755), 0);
    cr_assert_eq(mkdir("/run/systemd/journal", 0755), 0);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "/run/systemd/journal/socket");
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0, "%s", strerror(errno));
    return fd;
}

/* One journal entry: its fields as "NAME=value\n" lines (values with a
 * newline arrive length-prefixed and are unpacked here). */
struct entry {
    char text[16384];
};

static void entry_parse(const char *buf, size_t n, struct entry *e)
{
    size_t out = 0, i = 0;

    while (i < n && out < sizeof e->text - 2) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (buf + i)) : n - i;

        if (!memchr(buf + i, '=', len) && nl && (size_t)(nl - buf) + 9 <= n) {
            uint64_t vlen = 0; /* NAME\n<le64 length><value>\n */

            for (int b = 7; b >= 0; b--)
                vlen = vlen << 8 | (unsigned char)nl[1 + b];
            out += (size_t)snprintf(e->text + out, sizeof e->text - out, "%.*s=%.*s\n", (int)len,
                                    buf + i, (int)vlen, nl + 9);
            i = (size_t)(nl - buf) + 9 + vlen + 1;
            continue;
        }
        out += (size_t)snprintf(e->text + out, sizeof e->text - out, "%.*s\n", (int)len, buf + i);
        i += len + 1;
    }
    e->text[out] = '\0';
}

/* Receives entries until one has every "NAME=value" line of want (a
 * NULL-terminated list); false after ms. */
static bool journal_wait(int fd, const char *const *want, long ms, struct entry *e)
{
    long deadline = now_ms() + ms;
    static char buf[65536];

    while (now_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;
        bool all = true;

        if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
            continue;
        n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            continue;
        entry_parse(buf, (size_t)n, e);
        for (size_t i = 0; want[i] && all; i++) {
            char line[512];
            size_t len = (size_t)snprintf(line, sizeof line, "%s\n", want[i]);
            const char *p = e->text;

            all = false;
            for (; p && !all; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                all = strncmp(p, line, len) == 0;
        }
        if (all)
            return true;
    }
    return false;
}

/* The value of field name in e (up to cap-1 bytes), or "". */
static const char *entry_field(const struct entry *e, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);

    out[0] = '\0';
    for (const char *p = e->text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t len = strcspn(v, "\n");

            snprintf(out, cap, "%.*s", (int)len, v);
            break;
        }
    }
    return out;
}

Test(journal, error_and_access_logs_become_structured_entries)
{
    int jfd = fake_journald(), status;
    const char *ready[] = {"PRIORITY=6", "SYSLOG_IDENTIFIER=cohttpd", NULL};
    const char *access[] = {"REMOTE_ADDR=127.0.0.1",
                            "REQUEST=GET /page.txt?q=1 HTTP/1.1",
                            "STATUS=200",
                            "BYTES=5",
                            "SYSLOG_IDENTIFIER=cohttpd",
                            NULL};
    const char *missing[] = {"REQUEST=GET /nope HTTP/1.1", "STATUS=404", NULL};
    struct entry e;
    char value[512], out[4096];

    daemon_prepare(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 2\nerror_log = journal\n"
                       "access_log = journal\n[static /]\nroot = %ROOT%\n");
    site_write(&d, "page.txt", "page\n", 5);
    d.pid = harness_fork();
    if (d.pid == 0) {
        int fd = open(d.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fd, STDOUT_FILENO);

        dup2(fd, STDERR_FILENO);
        execl(cohttpd_bin(), "cohttpd", "-c", d.config, (char *)NULL);
        _exit(127);
    }

    /* The error log: "serving on" is a journal entry, not a stderr line. */
    do {
        cr_assert(journal_wait(jfd, ready, 10000, &e), "error log entries reach the journal");
        entry_field(&e, "MESSAGE", value, sizeof value);
    } while (!strstr(value, "serving on "));
    d.port = (unsigned)strtoul(strstr(value, "127.0.0.1:") + 10, NULL, 10);
    cr_assert_neq(d.port, 0, "%s", value);

    /* The access log: one entry per request, with its fields. */
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -A 'test agent' "
                         "http://127.0.0.1:%u/page.txt?q=1",
                         d.port),
                 0);
    cr_assert_str_eq(out, "page\n");
    cr_assert(journal_wait(jfd, access, 15000, &e), "an access entry with its fields");
    cr_assert_str_eq(entry_field(&e, "HTTP_USER_AGENT", value, sizeof value), "test agent");
    cr_assert(strstr(entry_field(&e, "MESSAGE", value, sizeof value),
                     "\"GET /page.txt?q=1 HTTP/1.1\" 200 5"),
              "MESSAGE is the log line: %s", value);
    run_cmd(NULL, 0, "curl -s http://127.0.0.1:%u/nope", d.port);
    cr_assert(journal_wait(jfd, missing, 15000, &e), "a 404 is logged as such");

    kill(d.pid, SIGTERM);
    cr_assert_eq(waitpid(d.pid, &status, 0), d.pid);
    d.pid = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit 0 (%d)", status);
    close(jfd);
}

/* Occurrences of needle in text. */
static int count(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Waits until the daemon's stderr holds needle; false after 5 s. */
static bool stderr_has(const char *needle) { return file_wait_for(d.log, needle, 15000); }

Test(journal, without_a_journal_both_logs_go_to_stderr_with_one_warning_each)
{
    char out[256], *log;

    private_run(); /* no /run/systemd/journal/socket */
    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 2\nerror_log = journal\n"
                     "access_log = journal\n[static /]\nroot = %ROOT%\n");
    site_write(&d, "page.txt", "page\n", 5);
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS http://127.0.0.1:%u/page.txt", d.port), 0);
    cr_assert_str_eq(out, "page\n");
    cr_assert(stderr_has("\"GET /page.txt HTTP/1.1\" 200 5"), "the access line is on stderr");
    log = file_slurp(d.log);
    cr_assert_eq(count(log, "serving on 127.0.0.1:"), 1, "%s", log);
    cr_assert_eq(count(log, "warning: error_log = journal: the journal cannot be reached"), 1,
                 "one warning says where the error log went: %s", log);
    cr_assert_eq(count(log, "warning: access_log = journal: the journal cannot be reached"), 1,
                 "one warning says where the access log went: %s", log);
    free(log);

    /* A reload looks again: still no journal, so still stderr. */
    kill(d.pid, SIGHUP);
    cr_assert(stderr_has("(config generation 2)"), "the reload is logged on stderr");
    run_cmd(NULL, 0, "curl -s http://127.0.0.1:%u/nope", d.port);
    cr_assert(stderr_has("\"GET /nope HTTP/1.1\" 404"), "and so are later requests");
    cr_assert_eq(daemon_stop(&d), 0);
}
