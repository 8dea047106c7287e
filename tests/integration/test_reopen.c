/* Integration: SIGUSR1 reopens the access and error log files (what logrotate
 * sends after renaming them); the daemon keeps serving its configuration. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;
static char logdir[64]; /* outside the daemon's directory: it outlives daemon_stop */

static void cleanup(void)
{
    daemon_kill(&d);
    if (logdir[0])
        run_cmd(NULL, 0, "rm -rf '%s'", logdir);
}

TestSuite(reopen, .fini = cleanup);

/* Waits until the file at path holds needle; false after 15 s. */
static bool file_has(const char *path, const char *needle)
{
    return file_wait_for(path, needle, 15000);
}

static bool file_lacks(const char *path, const char *needle)
{
    char *text = file_slurp(path);
    bool lacks = strstr(text, needle) == NULL;

    free(text);
    return lacks;
}

/* Starts the daemon on d's config; its port comes from the error log file. */
static void start_logging_to(const char *error_log)
{
    char *text, *p;

    daemon_spawn(&d);
    cr_assert(file_has(error_log, "serving on 127.0.0.1:"), "no start: %s", file_slurp(d.log));
    text = file_slurp(error_log);
    p = strstr(text, "serving on 127.0.0.1:");
    d.port = (unsigned)strtoul(p + strlen("serving on 127.0.0.1:"), NULL, 10);
    free(text);
    cr_assert_neq(d.port, 0);
}

Test(reopen, sigusr1_reopens_renamed_log_files)
{
    char access[400], error[400], access1[400], error1[400], out[256], ini[1024];

    snprintf(logdir, sizeof logdir, "/tmp/cohttpd-log-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    snprintf(access, sizeof access, "%s/access.log", logdir);
    snprintf(error, sizeof error, "%s/error.log", logdir);
    snprintf(access1, sizeof access1, "%s/access.log.1", logdir);
    snprintf(error1, sizeof error1, "%s/error.log.1", logdir);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = %s\nerror_log = %s\n"
             "[static /]\nroot = %%ROOT%%\n",
             access, error);
    daemon_prepare(&d, ini);
    site_write(&d, "a.txt", "alpha\n", 6);
    start_logging_to(error);
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS http://127.0.0.1:%u/a.txt?before", d.port), 0);
    cr_assert_str_eq(out, "alpha\n");

    /* What logrotate does: rename, then signal. The access log's buffered
     * lines go to the file they were written for before it is let go. */
    cr_assert_eq(rename(access, access1), 0);
    cr_assert_eq(rename(error, error1), 0);
    cr_assert_eq(kill(d.pid, SIGUSR1), 0);
    cr_assert(file_has(error, "SIGUSR1: log files reopened"), "a new error log: %s",
              file_slurp(d.log));
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS http://127.0.0.1:%u/a.txt?after", d.port), 0,
                 "the daemon still serves after SIGUSR1");
    cr_assert_str_eq(out, "alpha\n");
    /* Stopping flushes what the workers hold, so what follows does not
     * depend on the flush timer (the access log tests cover that). */
    cr_assert_eq(daemon_stop(&d), 0, "the daemon stops normally after SIGUSR1");
    cr_assert(file_has(access1, "GET /a.txt?before HTTP/1.1\" 200"),
              "the renamed access log keeps the line written before SIGUSR1: [%s] [%s]",
              file_slurp(access1), file_slurp(access));
    cr_assert(file_has(access, "GET /a.txt?after HTTP/1.1\" 200"),
              "the new access log gets the line written after SIGUSR1: [%s]", file_slurp(access));
    cr_assert(file_lacks(access1, "?after"), "the renamed access log gets no new line");
    cr_assert(file_lacks(error1, "reopened"), "the renamed error log gets no new line");
    cr_assert(file_lacks(error, "config generation 2"), "SIGUSR1 is no reload");
}
