/* Integration: a warning repeated by a worker (the accept pause when
 * descriptors run out) is written once, then counted. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* The daemon's window for repeated log messages (LOG_REPEAT_WINDOW_MS). */
#define LOG_WINDOW_MS 10000

static const char req[] = "GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n";
static struct daemon d;

static void cleanup(void) { daemon_kill(&d); }

TestSuite(log_repeats, .fini = cleanup);

/* Lines of text holding needle, and how many of those also hold extra. */
static int count_lines(const char *text, const char *needle, const char *extra, int *with_extra)
{
    int n = 0;

    *with_extra = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[1024];

        snprintf(line, sizeof line, "%.*s", (int)len, p);
        if (strstr(line, needle)) {
            n++;
            *with_extra += strstr(line, extra) != NULL;
        }
        p += len + (nl ? 1 : 0);
    }
    return n;
}

Test(log_repeats, a_pause_out_of_descriptors_is_logged_once_then_counted)
{
    struct rlimit rl = {.rlim_cur = 40, .rlim_max = 40};
    int fds[60], lines, summaries = 0;
    long start, elapsed, deadline;
    char *log, *p = NULL;
    unsigned long more = 0;

    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
                     "[static /]\nroot = %ROOT%\n");
    site_write(&d, "f.txt", "ok\n", 3);
    cr_assert_eq(prlimit(d.pid, RLIMIT_NOFILE, &rl, NULL), 0);
    start = now_ms();
    for (int i = 0; i < 60; i++) {
        fds[i] = tcp_connect(d.port);
        cr_assert_eq(send(fds[i], req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
    }
    /* Out of descriptors while these connections stay: the worker pauses
     * every 100 ms, and when the window ends, one line says how many
     * pauses were not written. */
    cr_assert(file_wait_for(d.log, "pausing for 100 ms", HARNESS_WAIT_MS),
              "the pause is logged: %s", file_slurp(d.log));
    deadline = now_ms() + 3 * LOG_WINDOW_MS;
    for (log = NULL; now_ms() < deadline; usleep(100000)) {
        free(log);
        log = file_slurp(d.log);
        if ((p = strstr(log, "pausing for 100 ms (repeated ")))
            break;
    }
    elapsed = now_ms() - start;
    cr_assert_not_null(p, "no count of the repeated pauses within %d ms: %s", 3 * LOG_WINDOW_MS,
                       log);
    lines = count_lines(log, "pausing for 100 ms", "(repeated", &summaries);
    cr_assert_leq(lines - summaries, 1 + elapsed / LOG_WINDOW_MS,
                  "one line per 10 s window, not one per pause (%ld ms): %s", elapsed, log);
    more = strtoul(p + strlen("pausing for 100 ms (repeated "), NULL, 10);
    cr_assert_geq(more, 1, "%s", log);
    cr_assert(strstr(p, " in the last "), "%s", log);
    free(log);
    for (int i = 0; i < 60; i++)
        close(fds[i]);
    cr_assert_eq(daemon_stop(&d), 0);
}
