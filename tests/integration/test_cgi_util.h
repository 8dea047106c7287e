/* test_cgi_util.h - what the CGI integration tests share: scripts, process groups, /proc counts. */
#ifndef COHTTPD_TESTS_TEST_CGI_UTIL_H
#define COHTTPD_TESTS_TEST_CGI_UTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Writes an executable script at rel below d's site root. */
static inline void cgi_script_at(const struct daemon *d, const char *rel, const char *text)
{
    char path[600];

    site_write(d, rel, text, strlen(text));
    snprintf(path, sizeof path, "%s/%s", d->root, rel);
    cr_assert_eq(chmod(path, 0755), 0, "chmod %s: %s", path, strerror(errno));
}

/* True once no process of group pgid is left (within 10 s). With
 * reap_orphans, the caller is a child subreaper (PR_SET_CHILD_SUBREAPER)
 * and reaps what comes to it meanwhile: an orphaned script killed while
 * unreaped would still count as a member of its group. */
static inline bool cgi_group_gone_within(pid_t pgid, bool reap_orphans)
{
    long until = now_ms() + 10000;

    for (;;) {
        while (reap_orphans && waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
            return true;
        if (now_ms() >= until)
            return false;
        usleep(10000);
    }
}

static inline bool cgi_group_gone(pid_t pgid) { return cgi_group_gone_within(pgid, false); }

/* Children of pid in state Z, from /proc. */
static inline int cgi_zombies_of(pid_t pid)
{
    DIR *dir = opendir("/proc");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(dir);
    while ((e = readdir(dir))) {
        char path[300], buf[512], state;
        int ppid;
        FILE *f;
        const char *close_paren;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        if (fgets(buf, sizeof buf, f) && (close_paren = strrchr(buf, ')')) &&
            sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == pid && state == 'Z')
            n++;
        fclose(f);
    }
    closedir(dir);
    return n;
}

/* Descriptors of pid that a script's run uses: pipes, pidfds and
 * temporary files (client sockets come and go on their own schedule);
 * only pidfds when pidfds_only. Their targets are appended to list (of
 * cap bytes) when list is not NULL. */
static inline int cgi_fds_listed(pid_t pid, bool pidfds_only, char *list, size_t cap)
{
    char path[64], link[600], target[256];
    struct dirent *e;
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    dir = opendir(path);
    cr_assert_not_null(dir);
    while ((e = readdir(dir))) {
        ssize_t len;

        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strstr(target, "pidfd") ||
            (!pidfds_only && (strncmp(target, "pipe:", 5) == 0 || strstr(target, "(deleted)")))) {
            n++;
            if (list && strlen(list) + strlen(target) + 2 < cap)
                strcat(strcat(list, target), "\n");
        }
    }
    closedir(dir);
    return n;
}

static inline int cgi_fd_count(pid_t pid) { return cgi_fds_listed(pid, false, NULL, 0); }

/* Waits (HARNESS_WAIT_MS at most) until pid holds no pidfd: no script of
 * its runs or waits to be reaped, and every descriptor of the last one's
 * run is closed (its pidfd goes last). True when it came to that. */
static inline bool cgi_wait_no_script(pid_t pid)
{
    long until = now_ms() + HARNESS_WAIT_MS;

    while (cgi_fds_listed(pid, true, NULL, 0) > 0 && now_ms() < until)
        usleep(10000);
    return cgi_fds_listed(pid, true, NULL, 0) == 0;
}

/* Waits (20 s at most) until the file at path holds n lines; returns the
 * lines it holds then. */
static inline int cgi_wait_lines(const char *path, int n)
{
    int lines = 0;

    for (long until = now_ms() + 20000;; usleep(20000)) {
        char *text = file_slurp(path);

        lines = 0;
        for (const char *p = text; (p = strchr(p, '\n')); p++)
            lines++;
        free(text);
        if (lines >= n || now_ms() >= until)
            return lines;
    }
}

#endif
