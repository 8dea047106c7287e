/* run.c - the daemon's life: bind, drop privileges, start workers, wait for signals, stop. */
#include "daemon/run.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "daemon/app.h"
#include "daemon/workers.h"

#define LISTEN_BACKLOG 4096

struct daemon {
    char *config_path; /* NULL for -r: nothing to reload from */
    struct app *app;
    struct workers *workers;
    struct workers_listener *listeners;
    size_t n_listeners;
    unsigned n_workers;
    int access_fd;
    bool access_fd_owned;
};

static unsigned cpu_count(void)
{
    cpu_set_t set;
    int n;

    if (sched_getaffinity(0, sizeof set, &set) == 0 && (n = CPU_COUNT(&set)) > 0)
        return (unsigned)n;
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Each connection is a descriptor: allow as many as the hard limit does. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void close_listeners(struct daemon *d)
{
    for (size_t i = 0; i < d->n_listeners; i++) {
        for (size_t j = 0; j < d->listeners[i].n_fds; j++)
            if (d->listeners[i].fds[j] >= 0)
                close(d->listeners[i].fds[j]);
        free(d->listeners[i].fds);
    }
    free(d->listeners);
    d->listeners = NULL;
    d->n_listeners = 0;
}

/* Binds every listen address: one SO_REUSEPORT socket per worker for TCP,
 * one shared socket for a unix path. */
static int open_listeners(struct daemon *d, const struct config *cfg)
{
    d->listeners = calloc(cfg->server.n_listen, sizeof *d->listeners);
    if (!d->listeners)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->server.n_listen; i++) {
        const struct config_listen *cl = &cfg->server.listen[i];
        struct workers_listener *wl = &d->listeners[i];
        bool unix_socket = cl->family == AF_UNIX;
        size_t n = unix_socket ? 1 : d->n_workers;

        wl->per_worker = !unix_socket;
        wl->fds = malloc(n * sizeof *wl->fds);
        if (!wl->fds)
            return -ENOMEM;
        d->n_listeners = i + 1;
        struct sockaddr_storage addr = cl->addr;
        socklen_t addr_len = cl->addr_len;

        for (size_t j = 0; j < n; j++) {
            int fd = net_listen((const struct sockaddr *)&addr, addr_len, !unix_socket,
                                LISTEN_BACKLOG);

            if (fd < 0) {
                log_error("cannot listen on %s: %s", cl->text, strerror(-fd));
                return fd;
            }
            wl->fds[j] = fd;
            wl->n_fds = j + 1;
            /* Port 0: the kernel picked one; the other workers share it. */
            if (j == 0 && !unix_socket)
                getsockname(fd, (struct sockaddr *)&addr, &addr_len);
        }
    }
    return 0;
}

static int open_access_log(struct daemon *d, const struct config *cfg)
{
    const struct config_log *al = &cfg->server.access_log;

    d->access_fd = -1;
    d->access_fd_owned = false;
    switch (al->target) {
    case CONFIG_LOG_OFF:
        return 0;
    case CONFIG_LOG_FILE:
        d->access_fd = open(al->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (d->access_fd < 0) {
            log_error("cannot open access log %s: %s", al->path, strerror(errno));
            return -errno;
        }
        d->access_fd_owned = true;
        return 0;
    default:
        d->access_fd = STDERR_FILENO;
        return 0;
    }
}

static int open_error_log(const struct config *cfg)
{
    const struct config_log *el = &cfg->server.error_log;
    int r;

    log_set_level(cfg->server.log_level);
    r = log_open(el->target == CONFIG_LOG_FILE ? el->path : NULL);
    if (r < 0)
        log_error("cannot open error log %s: %s", el->path, strerror(-r));
    return r;
}

/* After binding: leave root for the configured user and group. */
static int drop_privileges(const struct config *cfg)
{
    const struct config_server *s = &cfg->server;

    if (!s->change_uid && !s->change_gid)
        return 0;
    if (setgroups(0, NULL) < 0 && errno != EPERM) {
        log_error("cannot clear supplementary groups: %s", strerror(errno));
        return -1;
    }
    if (s->change_gid && setgid(s->gid) < 0) {
        log_error("cannot change group to %s: %s", s->group ? s->group : "?", strerror(errno));
        return -1;
    }
    if (s->change_uid && setuid(s->uid) < 0) {
        log_error("cannot change user to %s: %s", s->user, strerror(errno));
        return -1;
    }
    if (s->change_uid && (getuid() != s->uid || geteuid() != s->uid)) {
        log_error("refusing to serve: still running as uid %u", (unsigned)geteuid());
        return -1;
    }
    return 0;
}

/* Names the addresses as bound (a port 0 shows the port the kernel chose). */
static void log_ready(const struct daemon *d)
{
    char line[1024];
    size_t n = 0;

    for (size_t i = 0; i < d->n_listeners && n < sizeof line - 128; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        char text[128];

        if (getsockname(d->listeners[i].fds[0], (struct sockaddr *)&ss, &len) < 0)
            continue;
        net_addr_text((struct sockaddr *)&ss, len, text, sizeof text);
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", i ? ", " : "", text);
    }
    log_info("cohttpd %s serving on %s with %u worker%s", COHTTPD_VERSION, line, d->n_workers,
             d->n_workers == 1 ? "" : "s");
}

/* SIGHUP: a new configuration, validated before it replaces the old one. */
static void reload(struct daemon *d)
{
    struct config cfg = {0};
    struct config_errors errs = {0};
    struct app *app;

    if (!d->config_path) {
        log_warn("reload: no configuration file to reload (started with -r)");
        return;
    }
    log_info("reloading %s", d->config_path);
    if (config_load(d->config_path, &cfg, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            log_error("%s", errs.items[i].text);
        log_error("reload failed: still serving the previous configuration");
        config_errors_free(&errs);
        return;
    }
    app = app_new(&cfg);
    if (!app) {
        log_error("reload failed: still serving the previous configuration");
        return;
    }
    workers_set_app(d->workers, app);
    app_release(d->app);
    d->app = app;
    log_info("reloaded %s", d->config_path);
}

static int wait_for_signals(struct daemon *d)
{
    sigset_t set;
    int sfd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof si);

        if (n < 0 && errno == EINTR)
            continue;
        if (n != sizeof si)
            break;
        if (si.ssi_signo == SIGHUP) {
            reload(d);
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            log_info("%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
    }
    close(sfd);
    return 0;
}

int daemon_run(struct config *cfg, const char *config_path)
{
    struct daemon d = {.access_fd = -1};
    uint64_t shutdown_ms = cfg->limits.shutdown_timeout_ms;
    sigset_t set;
    int rc = 1;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    d.n_workers = cfg->server.workers ? cfg->server.workers : cpu_count();
    raise_fd_limit();
    if (config_path && !(d.config_path = strdup(config_path)))
        goto out;
    if (open_error_log(cfg) < 0 || open_listeners(&d, cfg) < 0 || open_access_log(&d, cfg) < 0 ||
        drop_privileges(cfg) < 0)
        goto out;
    d.app = app_new(cfg);
    if (!d.app)
        goto out;
    if (workers_start(&d.workers, d.n_workers, d.app, d.listeners, d.n_listeners, d.access_fd) <
        0) {
        log_error("cannot start the workers");
        goto out;
    }
    log_ready(&d);
    if (wait_for_signals(&d) == 0)
        rc = 0;
    workers_stop(d.workers, shutdown_ms);
out:
    if (d.app)
        app_release(d.app);
    config_free(cfg);
    close_listeners(&d);
    if (d.access_fd_owned)
        close(d.access_fd);
    free(d.config_path);
    return rc;
}
