/* logcheck.c - -t's check that the log files can be opened by the user the daemon serves as. */
#include "daemon/logcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Could this process open path for appending, creating it if missing?
 * Returns 0 or -errno. */
static int writable(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0)
        return 0;
    if (errno != ENOENT)
        return -errno;
    if (!slash || (size_t)(slash - path) >= sizeof dir)
        return -ENOENT;
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0 ? 0 : -errno;
}

/* Does the daemon leave this process's user for cfg's? */
static bool changes_user(const struct config_server *s)
{
    return geteuid() == 0 && (s->change_uid || s->change_gid);
}

/* writable(path) as the daemon's user would find it: in a child that drops
 * to that user and group (and no supplementary groups), as the daemon does. */
static int writable_as(const struct config_server *s, const char *path)
{
    pid_t pid;
    int status;

    if (!changes_user(s))
        return writable(path);
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int r = 0;

        if (setgroups(0, NULL) < 0 || (s->change_gid && setgid(s->gid) < 0) ||
            (s->change_uid && setuid(s->uid) < 0))
            r = -errno;
        else
            r = writable(path);
        _exit(-r & 0xff);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? -WEXITSTATUS(status) : -ECHILD;
}

/* The name of the user the daemon serves as, for messages. */
static void user_name(const struct config_server *s, char *out, size_t cap)
{
    uid_t uid = changes_user(s) && s->change_uid ? s->uid : geteuid();
    struct passwd *pw = getpwuid(uid);

    if (pw)
        snprintf(out, cap, "%s", pw->pw_name);
    else
        snprintf(out, cap, "uid %u", (unsigned)uid);
}

static int check_one(const struct config *cfg, const struct config_log *log, const char *what,
                     struct config_errors *errs)
{
    char user[64], msg[PATH_MAX + 256];
    int r;

    if (log->target != CONFIG_LOG_FILE)
        return 0;
    r = writable_as(&cfg->server, log->path);
    if (r == 0)
        return 0;
    user_name(&cfg->server, user, sizeof user);
    snprintf(msg, sizeof msg, "cannot open the %s %s as user %s: %s", what, log->path, user,
             strerror(-r));
    config_errors_add(errs, cfg->path, 0, msg);
    return -1;
}

int logcheck_run(const struct config *cfg, struct config_errors *errs)
{
    int a = check_one(cfg, &cfg->server.access_log, "access log", errs);
    int e = check_one(cfg, &cfg->server.error_log, "error log", errs);

    return a < 0 || e < 0 ? -1 : 0;
}
