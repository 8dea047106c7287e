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

static void cleanup(void) { daemon_kill(&d); }

TestSuite(reopen, .fini = cleanup);

/* Waits until the file at path holds needle; false after 5 s. */
static bool file_has(const char *path, const char *needle)
{
    return file_wait_for(path, needle, 5000);
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
    char access[400], error[400], access1[400], error1[400], out[256];

    daemon_prepare(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 2\n"
                       "access_log = %ROOT%/../access.log\nerror_log = %ROOT%/../error.log\n"
                       "[static /]\nroot = %ROOT%\n");
    site_write(&d, "a.txt", "alpha\n", 6);
    snprintf(access, sizeof access, "%s/access.log", d.dir);
    snprintf(error, sizeof error, "%s/error.log", d.dir);
    snprintf(access1, sizeof access1, "%s/access.log.1", d.dir);
    snprintf(error1, sizeof error1, "%s/error.log.1", d.dir);
    start_logging_to(error);
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS http://127.0.0.1:%u/a.txt?before", d.port), 0);
    cr_assert(file_has(access, "GET /a.txt?before HTTP/1.1\" 200"), "the access log gets lines");

    /* What logrotate does: rename, then signal. */
    cr_assert_eq(rename(access, access1), 0);
    cr_assert_eq(rename(error, error1), 0);
    cr_assert_eq(kill(d.pid, SIGUSR1), 0);
    cr_assert(file_has(error, "SIGUSR1: log files reopened"), "a new error log: %s",
              file_slurp(d.log));
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS http://127.0.0.1:%u/a.txt?after", d.port), 0,
                 "the daemon still serves after SIGUSR1");
    cr_assert_str_eq(out, "alpha\n");
    cr_assert(file_has(access, "GET /a.txt?after HTTP/1.1\" 200"), "the new access log gets lines");
    cr_assert(file_lacks(access1, "?after"), "the renamed access log gets no new line");
    cr_assert(file_lacks(error1, "reopened"), "the renamed error log gets no new line");
    cr_assert(file_lacks(error, "config generation 2"), "SIGUSR1 is no reload");
    cr_assert_eq(daemon_stop(&d), 0, "the daemon stops normally after SIGUSR1");
}
