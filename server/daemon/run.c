/* run.c - the daemon's life: listeners, privileges, workers, signals, reload, systemd, stop. */
#include "daemon/run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "daemon/app.h"
#include "daemon/systemd.h"
#include "daemon/workers.h"

#define LISTEN_BACKLOG 4096
#define MAX_LISTENERS  (CONFIG_MAX_LISTEN + SYSTEMD_MAX_SOCKETS)
/* How often STATUS= is refreshed when nothing else wakes the main thread. */
#define STATUS_PERIOD_MS 5000
/* A worker whose loop has not turned for this long (or the watchdog
 * interval, if longer) is stuck: WATCHDOG=1 is withheld. Idle loops turn
 * at least once a second. */
#define ALIVE_MIN_MS 2000
/* How often the main thread writes the counts of repeated log messages
 * whose window ended (log_flush_repeats). */
#define REPEATS_PERIOD_MS 1000
/* One access log batch from a worker (its buffer is 64 KiB). */
#define JOURNAL_BATCH_MAX (64 * 1024)

/* A socket the daemon serves on. */
struct listener {
    char text[128]; /* the listen line, or an inherited socket's address */
    char name[64];  /* inherited: its FileDescriptorName=, else "" */
    bool inherited; /* socket activation: kept until exit, never rebound */
    bool keep;      /* scratch: still wanted by the configuration being applied */
    bool serving;   /* the workers watch it */
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* bound here: removed at close */
    struct workers_listener wl;
};

struct daemon {
    char *config_path; /* NULL for -r: nothing to reload from */
    struct app *app;
    struct workers *workers;
    struct listener listeners[MAX_LISTENERS];
    size_t n_listeners;
    unsigned n_workers;
    bool access_on; /* an access log exists (fixed at startup) */
    int access_fd;  /* what the workers write to, or -1 */
    bool access_fd_owned;
    int journal_rx; /* access lines for the journal arrive here, or -1 */
    int journal_tx; /* the workers' end of it */
    char *journal_buf;
    unsigned generation;    /* configuration generation: 1, then +1 per reload */
    char reload_error[256]; /* why the last reload failed; "" after a good one */
    uint64_t watchdog_usec;
    uint64_t tick_ms;       /* when the last STATUS/WATCHDOG tick ran */
    uint64_t tick_requests; /* requests served as of then */
    double rps;
    bool stuck_logged;
    struct config_overrides over; /* the command line's, for every reload */
    char addresses[512];          /* the bound addresses, for STATUS= */
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

/* ---- listeners ---------------------------------------------------------- */

static void listener_close(struct listener *l)
{
    for (size_t j = 0; j < l->wl.n_fds; j++)
        if (l->wl.fds[j] >= 0)
            close(l->wl.fds[j]);
    free(l->wl.fds);
    l->wl.fds = NULL;
    l->wl.n_fds = 0;
    if (l->unix_path[0] && unlink(l->unix_path) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", l->unix_path, strerror(errno));
    l->unix_path[0] = '\0';
}

/* Stops the workers watching l (if they do), then closes it. */
static void listener_retire(struct daemon *d, struct listener *l)
{
    if (l->serving && d->workers)
        workers_unlisten(d->workers, &l->wl);
    l->serving = false;
    listener_close(l);
}

static void listeners_retire_all(struct daemon *d)
{
    for (size_t i = 0; i < d->n_listeners; i++)
        listener_retire(d, &d->listeners[i]);
    d->n_listeners = 0;
}

/* Drops the entries whose fds were closed, keeping the order. */
static void listeners_compact(struct daemon *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->n_listeners; i++)
        if (d->listeners[i].wl.n_fds > 0)
            d->listeners[n++] = d->listeners[i];
    d->n_listeners = n;
}

static bool same_in6(const struct in6_addr *a, const struct in6_addr *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Does the socket bound to ss serve the listen line cl? A line for every
 * IPv4 address (*:PORT) also takes a socket for every IPv6 address on that
 * port (systemd's ListenStream=PORT binds [::]:PORT for both). */
static bool address_matches(const struct config_listen *cl, const struct sockaddr_storage *ss)
{
    const struct sockaddr_in *c4 = (const struct sockaddr_in *)(const void *)&cl->addr;
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;
    const struct sockaddr_in6 *c6 = (const struct sockaddr_in6 *)(const void *)&cl->addr;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;

    if (cl->family == AF_UNIX)
        return ss->ss_family == AF_UNIX &&
               strcmp(((const struct sockaddr_un *)(const void *)ss)->sun_path, cl->path) == 0;
    if (cl->family == AF_INET && ss->ss_family == AF_INET)
        return c4->sin_port == s4->sin_port && c4->sin_addr.s_addr == s4->sin_addr.s_addr;
    if (cl->family == AF_INET6 && ss->ss_family == AF_INET6)
        return c6->sin6_port == s6->sin6_port && same_in6(&c6->sin6_addr, &s6->sin6_addr);
    if (cl->family == AF_INET && ss->ss_family == AF_INET6)
        return c4->sin_addr.s_addr == htonl(INADDR_ANY) && c4->sin_port == s6->sin6_port &&
               same_in6(&s6->sin6_addr, &in6addr_any);
    return false;
}

/* The FileDescriptorName= that names a listen line: its text with every ':'
 * written as '_' (systemd does not allow ':' in names): 127.0.0.1_8080. */
static bool name_matches(const struct config_listen *cl, const char *name)
{
    size_t i = 0;

    for (; cl->text[i] && name[i]; i++)
        if (name[i] != (cl->text[i] == ':' ? '_' : cl->text[i]))
            return false;
    return cl->text[i] == '\0' && name[i] == '\0';
}

/* Does the inherited socket l serve the listen line cl (by name or address)? */
static bool inherited_matches(const struct listener *l, const struct config_listen *cl)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;

    if (name_matches(cl, l->name))
        return true;
    return getsockname(l->wl.fds[0], (struct sockaddr *)&ss, &len) == 0 && address_matches(cl, &ss);
}

static size_t n_inherited(const struct daemon *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->n_listeners; i++)
        n += d->listeners[i].inherited;
    return n;
}

/*
 * Decides which listen lines of cfg the daemon binds itself (bind[i]): those
 * no inherited socket serves. When sockets were inherited and none matches a
 * line, the lines are all ignored and the inherited sockets serve alone.
 * Marks the inherited sockets that match a line (keep). Returns the number
 * of lines matched.
 */
static size_t plan_lines(struct daemon *d, const struct config *cfg, bool *bind)
{
    size_t matched = 0;

    for (size_t j = 0; j < d->n_listeners; j++)
        d->listeners[j].keep = false;
    for (size_t i = 0; i < cfg->server.n_listen; i++) {
        bind[i] = true;
        for (size_t j = 0; j < d->n_listeners; j++) {
            struct listener *l = &d->listeners[j];

            if (l->inherited && inherited_matches(l, &cfg->server.listen[i])) {
                l->keep = true;
                bind[i] = false;
            }
        }
        matched += !bind[i];
    }
    if (n_inherited(d) > 0 && matched == 0)
        for (size_t i = 0; i < cfg->server.n_listen; i++)
            bind[i] = false;
    return matched;
}

/* "FILE:LINE: cannot listen on ADDR: why" for the listen line cl of cfg. */
static void listen_failed(const struct config *cfg, const struct config_listen *cl, int err)
{
    char where[PATH_MAX + 16];

    config_where(where, sizeof where, cfg->path, cl->line);
    log_error("%s: cannot listen on %s: %s", where, cl->text, strerror(err));
}

/* Binds cl (a line of cfg): one SO_REUSEPORT socket per worker for TCP, one
 * shared socket for a unix path. Appends the listener (not yet served). */
static int listener_bind(struct daemon *d, const struct config *cfg, const struct config_listen *cl)
{
    bool unix_socket = cl->family == AF_UNIX;
    size_t n = unix_socket ? 1 : d->n_workers;
    struct sockaddr_storage addr = cl->addr;
    socklen_t addr_len = cl->addr_len;
    struct listener *l;

    if (d->n_listeners == MAX_LISTENERS)
        return -EMFILE;
    l = &d->listeners[d->n_listeners];
    *l = (struct listener){.keep = true, .wl = {.per_worker = !unix_socket}};
    snprintf(l->text, sizeof l->text, "%s", cl->text);
    l->wl.fds = malloc(n * sizeof *l->wl.fds);
    if (!l->wl.fds)
        return -ENOMEM;
    d->n_listeners++;
    /* Another server on the address would share it through SO_REUSEPORT
     * without a word: refuse, as a plain bind would. */
    if (!unix_socket) {
        int r = net_probe((const struct sockaddr *)&addr, addr_len);

        if (r < 0) {
            listen_failed(cfg, cl, -r);
            return r;
        }
    }
    for (size_t j = 0; j < n; j++) {
        int fd = net_listen((const struct sockaddr *)&addr, addr_len, !unix_socket, LISTEN_BACKLOG);

        if (fd < 0) {
            listen_failed(cfg, cl, -fd);
            return fd;
        }
        l->wl.fds[j] = fd;
        l->wl.n_fds = j + 1;
        if (unix_socket)
            snprintf(l->unix_path, sizeof l->unix_path, "%s", cl->path);
        /* Port 0: the kernel picked one; the other workers share it. */
        if (j == 0 && !unix_socket)
            getsockname(fd, (struct sockaddr *)&addr, &addr_len);
    }
    return 0;
}

/* Names the socket as bound: "127.0.0.1:8080" (a port 0 shows the port);
 * its configured text when the kernel cannot say. out may be l->text. */
static void listener_address(const struct listener *l, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(l->wl.fds[0], (struct sockaddr *)&ss, &len) == 0)
        net_addr_text((struct sockaddr *)&ss, len, out, cap);
    else if (out != l->text)
        snprintf(out, cap, "%s", l->text);
}

static int adopt_inherited(struct daemon *d)
{
    struct systemd_socket socks[SYSTEMD_MAX_SOCKETS];
    int n = systemd_listen_fds(socks, SYSTEMD_MAX_SOCKETS);

    for (int i = 0; i < n; i++) {
        struct listener *l = &d->listeners[d->n_listeners];

        *l = (struct listener){.inherited = true};
        l->wl.fds = malloc(sizeof *l->wl.fds);
        if (!l->wl.fds) {
            for (int j = i; j < n; j++)
                close(socks[j].fd);
            return -ENOMEM;
        }
        l->wl.fds[0] = socks[i].fd;
        l->wl.n_fds = 1;
        snprintf(l->name, sizeof l->name, "%s", socks[i].name);
        listener_address(l, l->text, sizeof l->text);
        d->n_listeners++;
    }
    return n < 0 ? n : 0;
}

/* Startup: takes the inherited sockets, then binds the listen lines they do
 * not serve. */
static int open_listeners(struct daemon *d, const struct config *cfg)
{
    bool bind[CONFIG_MAX_LISTEN];
    size_t matched;
    int r = adopt_inherited(d);

    if (r < 0)
        return r;
    matched = plan_lines(d, cfg, bind);
    for (size_t i = 0; i < d->n_listeners; i++) {
        const struct listener *l = &d->listeners[i];

        if (matched == 0)
            log_info("socket activation: no inherited socket matches a listen line: "
                     "using inherited %s (%s) instead",
                     l->text, l->name);
        else if (!l->keep)
            log_warn("socket activation: inherited %s (%s) matches no listen line: "
                     "using it too",
                     l->text, l->name);
    }
    for (size_t i = 0; i < cfg->server.n_listen && r == 0; i++)
        if (bind[i])
            r = listener_bind(d, cfg, &cfg->server.listen[i]);
    return r;
}

/* Every listener not served yet gets served. Returns 0 or -errno. */
static int serve_new_listeners(struct daemon *d)
{
    for (size_t i = 0; i < d->n_listeners; i++) {
        struct listener *l = &d->listeners[i];
        int r;

        if (l->serving)
            continue;
        r = workers_listen(d->workers, &l->wl);
        if (r < 0) {
            log_error("cannot serve on %s: %s", l->text, strerror(-r));
            return r;
        }
        l->serving = true;
    }
    return 0;
}

/* ---- logs --------------------------------------------------------------- */

/* The socket the workers' access logs write batches to when access_log =
 * journal; the main thread turns each line into a journal entry. Message
 * boundaries hold (SOCK_SEQPACKET) and the workers' end never blocks. */
static int journal_pipe(struct daemon *d)
{
    int sv[2], big = 1 << 20;

    if (d->journal_rx >= 0)
        return 0;
    d->journal_buf = malloc(JOURNAL_BATCH_MAX + 1);
    if (!d->journal_buf)
        return -ENOMEM;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    shutdown(sv[0], SHUT_WR);
    shutdown(sv[1], SHUT_RD);
    d->journal_rx = sv[0];
    d->journal_tx = sv[1];
    return 0;
}

/* Opens the access log target of cfg: *fd is what the workers write to
 * (-1: off), *owned whether it must be closed. The journal only when it can
 * be reached, else stderr with a warning. Returns 0 or -errno. */
static int access_log_target(struct daemon *d, const struct config *cfg, int *fd, bool *owned)
{
    const struct config_log *al = &cfg->server.access_log;
    int r;

    *fd = -1;
    *owned = false;
    switch (al->target) {
    case CONFIG_LOG_OFF: return 0;
    case CONFIG_LOG_FILE:
        *fd = open(al->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (*fd < 0) {
            log_error("cannot open access log %s: %s", al->path, strerror(errno));
            return -errno;
        }
        *owned = true;
        return 0;
    case CONFIG_LOG_JOURNAL:
        if ((r = systemd_journal_check()) < 0) {
            log_warn("access_log = journal: the journal cannot be reached (%s): "
                     "logging to stderr",
                     strerror(-r));
            *fd = STDERR_FILENO;
            return 0;
        }
        r = journal_pipe(d);
        if (r < 0) {
            log_error("cannot set up the access log for the journal: %s", strerror(-r));
            return r;
        }
        *fd = d->journal_tx;
        return 0;
    default: *fd = STDERR_FILENO; return 0;
    }
}

static int open_access_log(struct daemon *d, const struct config *cfg)
{
    int r = access_log_target(d, cfg, &d->access_fd, &d->access_fd_owned);

    d->access_on = d->access_fd >= 0;
    return r;
}

/* The error log as cfg says (also on reload: a log file is reopened, so
 * logrotate works); journal only when it can be reached, else stderr with
 * a warning. Returns 0 or -errno (the previous log stays). */
static int open_error_log(const struct config *cfg)
{
    const struct config_log *el = &cfg->server.error_log;
    int r;

    log_set_level(cfg->server.log_level);
    r = log_open(el->target == CONFIG_LOG_FILE ? el->path : NULL);
    if (r < 0) {
        log_error("cannot open error log %s: %s", el->path, strerror(-r));
        return r;
    }
    if (el->target == CONFIG_LOG_JOURNAL && (r = systemd_journal_check()) < 0) {
        log_set_sink(NULL);
        log_warn("error_log = journal: the journal cannot be reached (%s): logging to stderr",
                 strerror(-r));
        return 0;
    }
    log_set_sink(el->target == CONFIG_LOG_JOURNAL ? systemd_journal_log : NULL);
    return 0;
}

/* Sends what the workers' access logs wrote to the journal, entry by entry;
 * a line the journal refuses goes to stderr. */
static void journal_forward(struct daemon *d)
{
    ssize_t n;

    while ((n = recv(d->journal_rx, d->journal_buf, JOURNAL_BATCH_MAX, MSG_DONTWAIT)) > 0) {
        char *p = d->journal_buf, *end = p + n;

        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

            if (len > 0 && systemd_journal_access(p, len) < 0) {
                p[len] = '\n';
                if (write(STDERR_FILENO, p, len + 1) < 0) {
                    /* Nowhere left to put it. */
                }
            }
            p += len + 1;
        }
    }
}

/* ---- privileges --------------------------------------------------------- */

/* After binding: leave root for the configured user and group, for good. */
static int drop_privileges(const struct config *cfg)
{
    const struct config_server *s = &cfg->server;

    if (!s->change_uid && !s->change_gid) {
        if (geteuid() == 0)
            log_warn("running as root: set user = to serve as an unprivileged user");
        return 0;
    }
    if (setgroups(0, NULL) < 0 && errno != EPERM) {
        log_error("cannot clear supplementary groups: %s", strerror(errno));
        return -1;
    }
    if (s->change_gid && (setgid(s->gid) < 0 || getgid() != s->gid || getegid() != s->gid)) {
        log_error("cannot change group to %s (gid %u): %s", s->group ? s->group : s->user,
                  (unsigned)s->gid, strerror(errno));
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
    if (s->change_uid && s->uid != 0 && setuid(0) == 0) {
        log_error("refusing to serve: root privileges could be regained");
        return -1;
    }
    return 0;
}

/* ---- status ------------------------------------------------------------- */

/* The one-line summary for STATUS=. */
static void status_line(const struct daemon *d, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "serving on %s; %llu connections, %.1f requests/s, config "
                     "generation %u",
                     d->addresses, (unsigned long long)workers_connections(d->workers), d->rps,
                     d->generation);

    if (d->reload_error[0] && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "; last reload failed: %s", d->reload_error);
}

/*
 * With -l, at startup: each bound address on stdout, one line each, in a
 * form scripts can rely on: "listening on http://127.0.0.1:PORT/" (an IPv6
 * address in brackets), "listening on unix:/path" for a unix socket.
 */
static void print_listening(const struct daemon *d)
{
    for (size_t i = 0; i < d->n_listeners; i++) {
        char text[128];

        if (d->listeners[i].inherited)
            continue;
        listener_address(&d->listeners[i], text, sizeof text);
        if (strncmp(text, "unix:", 5) == 0)
            printf("listening on %s\n", text);
        else
            printf("listening on http://%s/\n", text);
    }
    fflush(stdout);
}

/* Names the addresses as bound (a port 0 shows the port the kernel chose). */
static void log_ready(struct daemon *d)
{
    char *line = d->addresses;
    size_t n = 0;

    line[0] = '\0';
    for (size_t i = 0; i < d->n_listeners && n < sizeof d->addresses - 160; i++) {
        char text[128];

        listener_address(&d->listeners[i], text, sizeof text);
        n += (size_t)snprintf(line + n, sizeof d->addresses - n, "%s%s", i ? ", " : "", text);
    }
    if (d->generation == 1 && d->over.n_listen > 0)
        print_listening(d);
    log_info("cohttpd %s serving on %s with %u worker%s (config generation %u)", COHTTPD_VERSION,
             line, d->n_workers, d->n_workers == 1 ? "" : "s", d->generation);
}

/* The main thread's periodic work: requests per second, STATUS=, and
 * WATCHDOG=1 when every worker loop turned recently. */
static void tick(struct daemon *d)
{
    uint64_t now = now_ms(), requests = workers_requests(d->workers);
    char status[512];

    if (now > d->tick_ms)
        d->rps = (double)(requests - d->tick_requests) * 1000.0 / (double)(now - d->tick_ms);
    d->tick_ms = now;
    d->tick_requests = requests;
    if (d->watchdog_usec) {
        uint64_t max_age = d->watchdog_usec / 1000;

        if (workers_alive(d->workers, max_age > ALIVE_MIN_MS ? max_age : ALIVE_MIN_MS)) {
            systemd_notify_watchdog();
            d->stuck_logged = false;
        } else if (!d->stuck_logged) {
            log_error("a worker loop is stuck: withholding WATCHDOG=1");
            d->stuck_logged = true;
        }
    }
    status_line(d, status, sizeof status);
    systemd_notify_status(status);
}

/* Milliseconds between ticks: half the watchdog interval, else the STATUS
 * period; -1 when nobody listens to notifications. */
static int tick_period(const struct daemon *d)
{
    uint64_t half = d->watchdog_usec / 2000;

    if (d->watchdog_usec)
        return half < 1 ? 1 : half < STATUS_PERIOD_MS ? (int)half : STATUS_PERIOD_MS;
    return systemd_notify_enabled() ? STATUS_PERIOD_MS : -1;
}

/* ---- reload ------------------------------------------------------------- */

/* Settings only a restart applies. */
static void warn_restart_only(const struct daemon *d, const struct config *old,
                              const struct config *cfg)
{
    const struct config_server *a = &old->server, *b = &cfg->server;

    if (a->workers != b->workers || a->stack_size != b->stack_size ||
        a->max_connections != b->max_connections)
        log_warn("reload: workers, stack_size and max_connections change on restart only");
    if (a->change_uid != b->change_uid || a->uid != b->uid || a->change_gid != b->change_gid ||
        a->gid != b->gid)
        log_warn("reload: user and group change on restart only");
    if (!d->access_on && b->access_log.target != CONFIG_LOG_OFF)
        log_warn("reload: an access log turned on takes a restart (it was off at startup)");
    if (a->access_log_format != b->access_log_format)
        log_warn("reload: access_log_format changes on restart only");
}

/* Closes the listeners from index before on (bound for a reload that
 * failed), after the workers stopped watching them. */
static void reload_unbind_new(struct daemon *d, size_t before)
{
    for (size_t i = before; i < d->n_listeners; i++)
        listener_retire(d, &d->listeners[i]);
    d->n_listeners = before;
}

/* Binds the listen lines of cfg that are new; marks the ones to keep.
 * On failure the new sockets are closed again. */
static int reload_bind(struct daemon *d, const struct config *cfg)
{
    bool bind[CONFIG_MAX_LISTEN];
    size_t before = d->n_listeners;
    int r = 0;

    plan_lines(d, cfg, bind);
    for (size_t j = 0; j < before; j++)
        if (d->listeners[j].inherited)
            d->listeners[j].keep = true;
    for (size_t i = 0; i < cfg->server.n_listen && r == 0; i++) {
        size_t j = 0;

        if (!bind[i])
            continue;
        while (j < before && (d->listeners[j].inherited ||
                              strcmp(d->listeners[j].text, cfg->server.listen[i].text) != 0))
            j++;
        if (j < before)
            d->listeners[j].keep = true;
        else
            r = listener_bind(d, cfg, &cfg->server.listen[i]);
    }
    if (r < 0)
        reload_unbind_new(d, before);
    return r;
}

/* Closes the listeners the new configuration dropped (after the workers
 * stopped watching them). */
static void reload_unbind(struct daemon *d)
{
    for (size_t i = 0; i < d->n_listeners; i++) {
        struct listener *l = &d->listeners[i];

        if (l->serving && !l->keep) {
            log_info("reload: no longer listening on %s", l->text);
            listener_retire(d, l);
        }
    }
    listeners_compact(d);
}

/* New access log fd (reopened: logrotate), swapped in worker by worker; on
 * reload and on SIGUSR1. */
static void reload_access_log(struct daemon *d, const struct config *cfg)
{
    int fd;
    bool owned;

    if (!d->access_on)
        return;
    if (cfg->server.access_log.target == CONFIG_LOG_OFF) {
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        owned = fd >= 0;
    } else if (access_log_target(d, cfg, &fd, &owned) < 0) {
        log_warn("keeping the previous access log");
        return;
    }
    if (fd < 0)
        return;
    workers_set_access_fd(d->workers, fd);
    if (d->access_fd_owned)
        close(d->access_fd);
    d->access_fd = fd;
    d->access_fd_owned = owned;
}

/* Records why a reload failed (the first error) for STATUS=. */
static void reload_failed(struct daemon *d, const char *why)
{
    char status[512];

    snprintf(d->reload_error, sizeof d->reload_error, "%s", why);
    log_error("reload failed: still serving configuration generation %u", d->generation);
    snprintf(status, sizeof status, "reload failed, still serving config generation %u: %s",
             d->generation, why);
    systemd_notify_ready(status);
}

/* Loads and builds the new generation; NULL after reporting why not. */
static struct app *reload_load(struct daemon *d)
{
    struct config cfg = {0};
    struct config_errors errs = {0};
    struct app *app;

    if (config_load_over(d->config_path, &d->over, &cfg, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            log_error("%s", errs.items[i].text);
        reload_failed(d, errs.n ? errs.items[0].text : "invalid configuration");
        config_errors_free(&errs);
        return NULL;
    }
    app = app_new(&cfg);
    if (!app)
        reload_failed(d, "cannot build the new configuration (see the error log)");
    return app;
}

/* Makes app serve: its new listeners, then every worker or none (the
 * previous generation keeps serving then). Returns 0, or -1 after
 * reporting why not; app is the caller's either way. */
static int reload_switch(struct daemon *d, struct app *app)
{
    size_t before = d->n_listeners;
    int r;

    if (reload_bind(d, app_config(app)) < 0 || serve_new_listeners(d) < 0) {
        reload_unbind_new(d, before);
        reload_failed(d, "cannot listen on a new address (see the error log)");
        return -1;
    }
    r = workers_set_app(d->workers, app);
    if (r < 0) {
        char why[128];

        snprintf(why, sizeof why, "a worker cannot switch to the new configuration: %s",
                 strerror(-r));
        reload_unbind_new(d, before);
        reload_failed(d, why);
        return -1;
    }
    return 0;
}

/* SIGHUP: a new configuration, validated before it replaces the old one;
 * it serves on every worker or on none. */
static void reload(struct daemon *d, pid_t sender)
{
    struct app *app;
    const struct config *cfg;
    char status[512];

    if (!d->config_path) {
        log_warn("reload: no configuration file to reload (started with -r)");
        return;
    }
    systemd_notify_reloading();
    /* Who asked: an unexpected reload can then be traced to its sender. */
    log_info("reloading %s (SIGHUP from pid %d)", d->config_path, (int)sender);
    if (!(app = reload_load(d)))
        return;
    if (reload_switch(d, app) < 0) {
        app_release(app);
        return;
    }
    cfg = app_config(app);
    warn_restart_only(d, app_config(d->app), cfg);
    app_release(d->app);
    d->app = app;
    reload_unbind(d);
    open_error_log(cfg);
    reload_access_log(d, cfg);
    d->generation++;
    d->reload_error[0] = '\0';
    log_ready(d);
    status_line(d, status, sizeof status);
    systemd_notify_ready(status);
}

/* SIGUSR1: the log files are opened anew (logrotate renamed them), under
 * the configuration that is serving; nothing else changes. */
static void reopen_logs(struct daemon *d)
{
    const struct config *cfg = app_config(d->app);

    open_error_log(cfg);
    reload_access_log(d, cfg);
    log_info("SIGUSR1: log files reopened");
}

/* ---- main loop ---------------------------------------------------------- */

static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Waits for signals, ticking, forwarding journal lines and writing held-back
 * log repeat counts meanwhile.
 * Returns once SIGTERM or SIGINT came (0), or -1 if the signalfd failed. */
static int serve(struct daemon *d, int sfd)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
                                {.fd = d->journal_rx, .events = POLLIN}};
        int period = tick_period(d), timeout = REPEATS_PERIOD_MS;
        struct signalfd_siginfo si;

        /* A worker's repeated message may be pending: write its count in time. */
        log_flush_repeats(false);

        if (period >= 0) {
            uint64_t due = d->tick_ms + (uint64_t)period, now = now_ms();
            int tick_in = due > now ? (int)(due - now) : 0;

            timeout = tick_in < timeout ? tick_in : timeout;
        }
        if (poll(pfd, d->journal_rx >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR)
            return -1;
        if (pfd[1].revents & POLLIN)
            journal_forward(d);
        if (period >= 0 && now_ms() >= d->tick_ms + (uint64_t)period)
            tick(d);
        if (!(pfd[0].revents & POLLIN))
            continue;
        if (read(sfd, &si, sizeof si) != sizeof si)
            continue;
        if (si.ssi_signo == SIGHUP)
            reload(d, (pid_t)si.ssi_pid);
        else if (si.ssi_signo == SIGUSR1)
            reopen_logs(d);
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            log_info("%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            return 0;
        }
    }
}

/* Startup after the configuration is loaded; returns 0 when serving. */
static int start(struct daemon *d, struct config *cfg)
{
    int r;

    if (open_error_log(cfg) < 0 || open_listeners(d, cfg) < 0 || open_access_log(d, cfg) < 0 ||
        drop_privileges(cfg) < 0)
        return -1;
    d->app = app_new(cfg);
    if (!d->app)
        return -1;
    /* Worker threads start only now: after the privilege drop. */
    r = workers_start(&d->workers, d->n_workers, d->app, d->access_fd);
    if (r < 0) {
        log_error("cannot start the workers: %s", strerror(-r));
        return -1;
    }
    return serve_new_listeners(d);
}

/* Graceful stop: no new connections (the listening sockets close, so
 * connecting is refused), idle ones close, running requests finish until
 * shutdown_timeout. */
static void stop(struct daemon *d)
{
    char status[512];

    snprintf(status, sizeof status, "stopping: %llu connections finishing",
             (unsigned long long)workers_connections(d->workers));
    systemd_notify_stopping(status);
    listeners_retire_all(d);
    workers_stop(d->workers, app_config(d->app)->limits.shutdown_timeout_ms);
    d->workers = NULL;
    if (d->journal_rx >= 0)
        journal_forward(d); /* the workers' last lines */
}

static void cleanup(struct daemon *d)
{
    listeners_retire_all(d);
    if (d->workers)
        workers_stop(d->workers, 0);
    if (d->app)
        app_release(d->app);
    if (d->access_fd_owned)
        close(d->access_fd);
    if (d->journal_rx >= 0) {
        close(d->journal_rx);
        close(d->journal_tx);
    }
    free(d->journal_buf);
    free(d->config_path);
    log_flush_repeats(true);
    log_set_sink(NULL);
}

int daemon_run(struct config *cfg, const char *config_path)
{
    struct daemon d = {.access_fd = -1, .journal_rx = -1, .journal_tx = -1, .generation = 1};
    sigset_t set;
    int sfd = -1, rc = 1;
    char status[512];

    block_signals(&set);
    d.n_workers = cfg->server.workers ? cfg->server.workers : cpu_count();
    d.watchdog_usec = systemd_watchdog_usec();
    d.over = cfg->over;
    raise_fd_limit();
    if ((config_path && !(d.config_path = strdup(config_path))) ||
        (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0 || start(&d, cfg) < 0) {
        systemd_notify_failed("startup failed (see the error log)", errno ? errno : EINVAL);
        goto out;
    }
    log_ready(&d);
    d.tick_ms = now_ms();
    status_line(&d, status, sizeof status);
    systemd_notify_ready(status);
    if (serve(&d, sfd) == 0)
        rc = 0;
    stop(&d);
out:
    if (sfd >= 0)
        close(sfd);
    config_free(cfg);
    cleanup(&d);
    return rc;
}
