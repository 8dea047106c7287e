/* Integration: what the static handler does when a file cannot be opened the
 * usual way: openat2 refused (old kernel, seccomp filter), a socket in the root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test_static_util.h"

static struct daemon d;

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0, "cohttpd must exit 0 on SIGTERM");
}

TestSuite(static_open, .fini = stop);

/* Runs cohttpd with args (-c d.config when NULL) and openat2 failing with
 * err (a seccomp filter, as a container runtime or an older kernel would
 * have it), its stderr in d.log, and returns its exit status; gives up (and
 * fails) after HARNESS_WAIT_MS. */
static int run_without_openat2(int err, char *const *args)
{
    char *const with_config[] = {"cohttpd", "-c", d.config, NULL};
    long deadline = now_ms() + HARNESS_WAIT_MS;
    int status;
    pid_t pid = harness_fork();

    if (pid == 0) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int fd = open(d.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (!ctx || fd < 0 ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)err), SCMP_SYS(openat2), 0) < 0 ||
            seccomp_load(ctx) < 0)
            _exit(126);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(cohttpd_bin(), args ? args : with_config);
        _exit(127);
    }
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cr_assert_fail("cohttpd kept running without openat2: %s", file_slurp(d.log));
        }
        usleep(10000);
    }
    return status;
}

Test(static_open, without_openat2_the_daemon_refuses_to_start_and_says_why)
{
    const int errs[] = {ENOSYS, EPERM};

    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        int status;
        char *log;

        daemon_prepare(&d, "[static /]\nroot = %ROOT%\n");
        site_write(&d, "index.html", "hello\n", 6);
        status = run_without_openat2(errs[i], NULL);
        log = file_slurp(d.log);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) < 126,
                  "openat2 failing with %s: status %d, log: %s", strerror(errs[i]), status, log);
        cr_assert(strstr(log, "cohttpd.ini:4: cannot open root") != NULL, "%s", log);
        cr_assert(strstr(log, "openat2 is not allowed here") != NULL, "%s", log);
        cr_assert(strstr(log, "serving on") == NULL, "%s", log);
        free(log);
        daemon_kill(&d); /* removes the directory; nothing is running */
    }
}

Test(static_open, serving_a_directory_without_openat2_says_why_too)
{
    int status;
    char *log;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\n");
    {
        char *const args[] = {"cohttpd", "-r", d.root, "-l", "127.0.0.1:0", NULL};

        status = run_without_openat2(ENOSYS, args);
    }
    log = file_slurp(d.log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d, log: %s", status, log);
    cr_assert(strstr(log, "error: command line: cannot open root") != NULL, "%s", log);
    cr_assert(strstr(log, "openat2 is not allowed here") != NULL, "%s", log);
    free(log);
    daemon_kill(&d);
}

Test(static_open, a_socket_in_the_root_is_not_found)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct st_resp r;
    char *log;

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    cr_assert_geq(s, 0);
    cr_assert_lt(strlen(d.root) + sizeof "/sock", sizeof sa.sun_path);
    memcpy(sa.sun_path, d.root, strlen(d.root));
    memcpy(sa.sun_path + strlen(d.root), "/sock", sizeof "/sock");
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
    r = st_get(d.port, "/sock", "");
    cr_assert_eq(r.status, 404, "%s", r.raw);
    st_free(&r);
    close(s);
    log = file_slurp(d.log);
    cr_assert(strstr(log, "cannot open") == NULL, "%s", log);
    free(log);
}
