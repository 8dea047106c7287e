/* Integration: started as root, cohttpd binds and then serves as user and
 * group (nobody, nogroup) with no supplementary groups; a drop that fails
 * means no serving; -t refuses an unknown user or group. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;
static char site[64]; /* a site nobody can read: /tmp/cohttpd-site-XXXXXX, 0755 */

static void cleanup(void)
{
    if (site[0])
        run_cmd(NULL, 0, "rm -rf '%s'", site);
    if (d.pid > 0) {
        kill(d.pid, SIGKILL);
        waitpid(d.pid, NULL, 0);
    }
    if (d.dir[0])
        run_cmd(NULL, 0, "rm -rf '%s'", d.dir);
}

TestSuite(privileges, .fini = cleanup);

/* The value of a "Name:\t..." line of a /proc status file, tabs as spaces. */
static void status_field(const char *path, const char *name, char *out, size_t cap)
{
    char line[512];
    size_t nl = strlen(name);
    FILE *f = fopen(path, "r");

    cr_assert_not_null(f, "%s", path);
    out[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
            char *v = line + nl + 1;

            while (*v == '\t' || *v == ' ')
                v++;
            v[strcspn(v, "\n")] = '\0';
            for (char *p = v; *p; p++)
                if (*p == '\t')
                    *p = ' ';
            snprintf(out, cap, "%s", v);
        }
    }
    fclose(f);
}

static const char *ini_nobody = "[server]\nlisten = 127.0.0.1:0\nworkers = 2\n"
                                "user = nobody\ngroup = nogroup\n[static /]\nroot = %ROOT%\n";

Test(privileges, root_drops_to_nobody_before_serving)
{
    struct passwd *pw = getpwnam("nobody");
    struct group *gr = getgrnam("nogroup");
    char ids[64], want_uid[64], want_gid[64], field[256], out[4096], path[320], ini[512];
    struct dirent *e;
    DIR *dp;
    int threads = 0;

    cr_assert_not_null(pw, "the system has a user nobody");
    cr_assert_not_null(gr, "and a group nogroup");
    snprintf(want_uid, sizeof want_uid, "%u %u %u %u", (unsigned)pw->pw_uid, (unsigned)pw->pw_uid,
             (unsigned)pw->pw_uid, (unsigned)pw->pw_uid);
    snprintf(want_gid, sizeof want_gid, "%u %u %u %u", (unsigned)gr->gr_gid, (unsigned)gr->gr_gid,
             (unsigned)gr->gr_gid, (unsigned)gr->gr_gid);
    if (geteuid() != 0)
        cr_skip("not run as root: the drop to nobody:nogroup is tested only when the suite "
                "runs as root");
    /* The daemon's own directory is private (0700); the site is not. */
    snprintf(site, sizeof site, "/tmp/cohttpd-site-XXXXXX");
    cr_assert_not_null(mkdtemp(site));
    cr_assert_eq(chmod(site, 0755), 0);
    cr_assert_eq(run_cmd(NULL, 0, "echo 'as nobody' > '%s/index.html'", site), 0);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 2\nuser = nobody\n"
             "group = nogroup\n[static /]\nroot = %s\n",
             site);
    daemon_start(&d, ini);

    /* Every thread of the process runs as nobody:nogroup, with no
     * supplementary groups and no capabilities. */
    snprintf(path, sizeof path, "/proc/%d/task", (int)d.pid);
    dp = opendir(path);
    cr_assert_not_null(dp);
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)d.pid, e->d_name);
        status_field(path, "Uid", ids, sizeof ids);
        cr_assert_str_eq(ids, want_uid, "thread %s: Uid", e->d_name);
        status_field(path, "Gid", ids, sizeof ids);
        cr_assert_str_eq(ids, want_gid, "thread %s: Gid", e->d_name);
        status_field(path, "Groups", field, sizeof field);
        cr_assert_str_eq(field, "", "thread %s: supplementary groups", e->d_name);
        status_field(path, "CapEff", field, sizeof field);
        cr_assert_str_eq(field, "0000000000000000", "thread %s: capabilities", e->d_name);
        threads++;
    }
    closedir(dp);
    cr_assert_eq(threads, 3, "the main thread and two workers");

    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS http://127.0.0.1:%u/index.html", d.port), 0);
    cr_assert_str_eq(out, "as nobody\n");
    cr_assert_eq(daemon_stop(&d), 0);
}

/* A daemon not started as root that is asked for another user must stop,
 * not serve as the wrong one. As root, the daemon is started as nobody
 * (setpriv) and asked for root. */
Test(privileges, an_unprivileged_daemon_asked_for_another_user_exits)
{
    bool root = geteuid() == 0;
    char *log;
    int rc;

    daemon_prepare(&d, root ? "[server]\nlisten = 127.0.0.1:0\nuser = root\ngroup = root\n"
                              "[static /]\nroot = %ROOT%\n"
                            : ini_nobody);
    cr_assert_eq(chmod(d.dir, 0755), 0, "the config is readable by nobody");
    rc = run_cmd(NULL, 0, "exec %s '%s' -c '%s' 2>'%s'",
                 root ? "setpriv --reuid=nobody --regid=nogroup --clear-groups" : "", cohttpd_bin(),
                 d.config, d.log);
    log = file_slurp(d.log);
    cr_assert_eq(rc, 1, "exit 1: %s", log);
    cr_assert(strstr(log, "cannot change"), "%s", log);
    cr_assert_null(strstr(log, "serving on"), "%s", log);
    free(log);
}

Test(privileges, a_failed_drop_means_no_serving)
{
    char log[4096] = "";
    FILE *f;
    int rc;

    /* In a user namespace where only root is mapped, the process is root
     * but cannot become nobody: setgid fails, and cohttpd must exit. */
    daemon_prepare(&d, ini_nobody);
    rc = run_cmd(NULL, 0, "exec unshare --user --map-root-user '%s' -c '%s' 2>'%s'", cohttpd_bin(),
                 d.config, d.log);
    f = fopen(d.log, "r");
    cr_assert_not_null(f);
    log[fread(log, 1, sizeof log - 1, f)] = '\0';
    fclose(f);
    cr_assert_eq(rc, 1, "exit 1 when the drop fails: %s", log);
    cr_assert(strstr(log, "cannot change group to nogroup"), "%s", log);
    cr_assert_null(strstr(log, "serving on"), "%s", log);
}

Test(privileges, check_refuses_an_unknown_user_or_group)
{
    char out[4096];
    int rc;

    daemon_prepare(&d, "[server]\nlisten = 127.0.0.1:0\nuser = no-such-user-cohttpd\n"
                       "group = no-such-group-cohttpd\n[static /]\nroot = %ROOT%\n");
    rc = run_cmd(out, sizeof out, "'%s' -t -c '%s' 2>&1", cohttpd_bin(), d.config);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "cohttpd.ini:3: unknown user 'no-such-user-cohttpd'"), "%s", out);
    cr_assert(strstr(out, "cohttpd.ini:4: unknown group 'no-such-group-cohttpd'"), "%s", out);

    run_cmd(NULL, 0, "rm -rf '%s'", d.dir);
    daemon_prepare(&d, ini_nobody);
    rc = run_cmd(out, sizeof out, "'%s' -t -c '%s' 2>&1", cohttpd_bin(), d.config);
    cr_assert_eq(rc, 0, "nobody and nogroup exist: %s", out);
}
