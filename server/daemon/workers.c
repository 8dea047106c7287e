/* workers.c - worker threads: a loop each, its listeners, accept, graceful stop. */
#include "daemon/workers.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "http/accesslog.h"

/* Connections accepted per readiness edge before other work gets a turn. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when the process runs out of descriptors. */
#define ACCEPT_BACKOFF_MS 100

struct worker;

struct listener {
    struct loop_watch w; /* first: the loop hands back this pointer */
    struct worker *wk;
    struct listener *next;
    /* The address the socket is bound to, handed to each connection as its
     * local address (no getsockname per accept; a wildcard stays one). */
    struct sockaddr_storage local;
    socklen_t local_len;
};

struct worker {
    unsigned id;
    struct workers *all;
    pthread_t thread;
    struct loop *loop;
    struct http_server *http;
    struct access_log *access_log;
    struct listener *listeners; /* the sockets this loop watches */
    size_t max_conns;
    bool accept_paused;              /* at max_connections or out of fds */
    _Atomic uint64_t accept_refused; /* for the status page (this thread writes) */
    _Atomic uint64_t accept_pauses;
    bool stopping;
    struct timer accept_timer;
    struct timer stop_timer;
    struct timer heartbeat_timer; /* keeps an idle loop turning for the watchdog */
    uint64_t activity;            /* connections + requests at the last heartbeat */
    bool release_due;             /* busy since memory was last given back */
    uint64_t stop_deadline;
    int start_error;
    /* The command the main thread runs on this loop (workers_run_all). */
    int (*cmd_fn)(struct worker *wk, const void *arg);
    const void *cmd_arg;
    int cmd_result;
    struct app_worker *pending; /* a generation prepared, not yet served (workers_set_app) */
};

struct workers {
    struct worker *w;
    unsigned n;
    sem_t done;      /* a worker finished its setup or a command */
    struct app *app; /* the app the workers start with */
    int access_fd;
    unsigned max_connections;
};

static void worker_accept(struct worker *wk);

/* The status page's view of every worker (app_set_observer). Any thread:
 * it reads counters only, and the workers outlive every request. */
static int workers_observe(void *arg, struct http_view *v)
{
    const struct workers *ws = arg;

    v->workers = calloc(ws->n, sizeof *v->workers);
    if (!v->workers)
        return -ENOMEM;
    v->n_workers = ws->n;
    for (unsigned i = 0; i < ws->n; i++) {
        const struct worker *wk = &ws->w[i];
        struct http_view_worker *out = &v->workers[i];

        http_stats_read(http_server_stats(wk->http), out);
        out->accept_refused = atomic_load_explicit(&wk->accept_refused, memory_order_relaxed);
        out->accept_pauses = atomic_load_explicit(&wk->accept_pauses, memory_order_relaxed);
        loop_load(wk->loop, &out->loop_iterations, &out->loop_busy_ns, &out->loop_idle_ns);
    }
    return 0;
}

static void accept_resume(struct timer *t)
{
    struct worker *wk = (struct worker *)((char *)t - offsetof(struct worker, accept_timer));

    wk->accept_paused = false;
    worker_accept(wk);
}

/* Called by the engine when a connection closes. */
static void worker_conn_closed(void *arg)
{
    struct worker *wk = arg;

    if (wk->accept_paused && !wk->stopping && !timer_armed(&wk->accept_timer) &&
        http_server_connections(wk->http) < wk->max_conns) {
        wk->accept_paused = false;
        worker_accept(wk);
    }
}

/* Accepts on one listener; returns false when accepting must pause. */
static bool listener_accept(struct listener *l, unsigned *budget)
{
    struct worker *wk = l->wk;

    while (*budget > 0) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd;

        if (http_server_connections(wk->http) >= wk->max_conns) {
            http_stat_add(&wk->accept_refused, 1);
            http_stat_add(&wk->accept_pauses, 1);
            return false;
        }
        fd = accept4(l->w.fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                l->w.ready &= ~(uint32_t)LOOP_READ;
                return true;
            }
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_warn("accept: %s: pausing for %d ms", strerror(errno), ACCEPT_BACKOFF_MS);
                http_stat_add(&wk->accept_pauses, 1);
                timer_arm(loop_timers(wk->loop), &wk->accept_timer,
                          loop_now(wk->loop) + ACCEPT_BACKOFF_MS);
                return false;
            }
            log_error("accept: %s", strerror(errno));
            return true;
        }
        (*budget)--;
        http_server_accept(wk->http, fd, (struct sockaddr *)&peer, plen,
                           (struct sockaddr *)&l->local, l->local_len);
    }
    /* Budget spent with connections maybe still queued: come back next turn. */
    timer_arm(loop_timers(wk->loop), &wk->accept_timer, loop_now(wk->loop));
    return false;
}

static void worker_accept(struct worker *wk)
{
    unsigned budget = ACCEPT_BATCH;

    if (wk->accept_paused || wk->stopping)
        return;
    for (struct listener *l = wk->listeners; l; l = l->next) {
        if (!(l->w.ready & LOOP_READ))
            continue;
        if (!listener_accept(l, &budget)) {
            wk->accept_paused = true;
            return;
        }
    }
}

static void listener_on_event(struct loop_watch *w, uint32_t events)
{
    struct listener *l = (struct listener *)w;

    (void)events;
    worker_accept(l->wk);
}

static int listener_fd(const struct workers_listener *wl, unsigned worker_id)
{
    return wl->per_worker ? wl->fds[worker_id] : wl->fds[0];
}

/* Command: watch one more listening socket (shared ones with EPOLLEXCLUSIVE). */
static int worker_add_listener(struct worker *wk, const void *arg)
{
    const struct workers_listener *wl = arg;
    struct listener *l = calloc(1, sizeof *l);
    int r;

    if (!l)
        return -ENOMEM;
    l->wk = wk;
    l->w = (struct loop_watch){.fd = listener_fd(wl, wk->id), .on_event = listener_on_event};
    l->local_len = sizeof l->local;
    if (getsockname(l->w.fd, (struct sockaddr *)&l->local, &l->local_len) < 0)
        l->local_len = 0;
    r = wl->per_worker ? loop_watch_add(wk->loop, &l->w)
                       : loop_watch_add_exclusive(wk->loop, &l->w);
    if (r < 0) {
        free(l);
        return r;
    }
    l->next = wk->listeners;
    wk->listeners = l;
    worker_accept(wk); /* connections queued before the socket was watched */
    return 0;
}

/* Command: stop watching a listening socket (the caller closes it after). */
static int worker_del_listener(struct worker *wk, const void *arg)
{
    int fd = listener_fd(arg, wk->id);

    for (struct listener **pl = &wk->listeners; *pl; pl = &(*pl)->next) {
        struct listener *l = *pl;

        if (l->w.fd == fd) {
            loop_watch_del(&l->w);
            *pl = l->next;
            free(l);
            return 0;
        }
    }
    return 0;
}

/*
 * Once a worker that was busy has served nothing for a whole heartbeat, it
 * gives back what the load took: its pool of connection buffers, then, with
 * malloc_trim, the free pages of every malloc arena (glibc keeps a freed
 * chunk's pages while the chunk is not at the top of its heap, so a flood
 * of bad requests left its peak RSS behind for good). Runs once per busy
 * period, from the heartbeat: never on a request's path.
 */
static void release_memory_when_quiet(struct worker *wk)
{
    const struct http_stats *st = http_server_stats(wk->http);
    uint64_t activity = atomic_load_explicit(&st->connections_total, memory_order_relaxed) +
                        atomic_load_explicit(&st->requests, memory_order_relaxed);

    if (activity != wk->activity) {
        wk->activity = activity;
        wk->release_due = true;
        return;
    }
    if (!wk->release_due)
        return;
    wk->release_due = false;
    http_server_release_memory(wk->http);
    loop_release_stacks(wk->loop);
    malloc_trim(0);
}

static void heartbeat(struct timer *t)
{
    struct worker *wk = (struct worker *)((char *)t - offsetof(struct worker, heartbeat_timer));

    release_memory_when_quiet(wk);
    timer_arm(loop_timers(wk->loop), t, loop_now(wk->loop) + 1000);
}

static int worker_setup(struct worker *wk)
{
    struct workers *ws = wk->all;
    const struct config *cfg = app_config(ws->app);
    struct app_worker *aw;

    wk->loop = loop_new(cfg->server.stack_size);
    if (!wk->loop)
        return -errno;
    if (ws->access_fd >= 0) {
        wk->access_log =
            access_log_new(wk->loop, ws->access_fd,
                           cfg->server.access_log_format == CONFIG_ACCESS_JSON ? HTTP_LOG_JSON
                                                                               : HTTP_LOG_COMBINED);
        if (!wk->access_log)
            return -ENOMEM;
    }
    aw = app_worker_new(ws->app);
    if (!aw)
        return -ENOMEM;
    wk->http = http_server_new(wk->loop, app_worker_site(aw), wk->access_log);
    app_worker_release(aw); /* the engine holds it now */
    if (!wk->http)
        return -ENOMEM;
    http_server_on_close(wk->http, worker_conn_closed, wk);
    timer_init(&wk->accept_timer, accept_resume);
    timer_init(&wk->stop_timer, NULL);
    timer_init(&wk->heartbeat_timer, heartbeat);
    heartbeat(&wk->heartbeat_timer);
    return 0;
}

static void worker_unlisten(struct worker *wk)
{
    while (wk->listeners) {
        struct listener *l = wk->listeners;

        loop_watch_del(&l->w);
        wk->listeners = l->next;
        free(l);
    }
}

/* Stop order matters: idle connections close while the loop exists, busy
 * ones are cancelled by loop_free, and the engine goes last. */
static void worker_teardown(struct worker *wk)
{
    if (!wk->loop)
        return;
    worker_unlisten(wk);
    timer_cancel(loop_timers(wk->loop), &wk->heartbeat_timer);
    timer_cancel(loop_timers(wk->loop), &wk->accept_timer);
    timer_cancel(loop_timers(wk->loop), &wk->stop_timer);
    if (wk->http) {
        http_server_on_close(wk->http, NULL, NULL);
        http_server_drain(wk->http);
    }
    access_log_free(wk->access_log);
    loop_free(wk->loop);
    http_server_free(wk->http);
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;

    wk->start_error = worker_setup(wk);
    sem_post(&wk->all->done);
    if (wk->start_error == 0)
        loop_run(wk->loop);
    worker_teardown(wk);
    return NULL;
}

static void sem_wait_intr(sem_t *sem)
{
    while (sem_wait(sem) < 0 && errno == EINTR)
        ;
}

int workers_start(struct workers **out, unsigned n, struct app *app, int access_fd)
{
    struct workers *ws = calloc(1, sizeof *ws);
    sigset_t all, old;
    int r = 0;

    if (!ws)
        return -ENOMEM;
    ws->w = calloc(n, sizeof *ws->w);
    if (!ws->w) {
        free(ws);
        return -ENOMEM;
    }
    ws->app = app;
    app_set_observer(app, workers_observe, ws);
    ws->access_fd = access_fd;
    ws->max_connections = app_config(app)->server.max_connections;
    sem_init(&ws->done, 0, 0);
    /* glibc sets its malloc up at its first call, which is not safe from
     * two threads at once. When malloc is replaced (a sanitizer build), the
     * first glibc call may be the workers' malloc_trim on the same quiet
     * heartbeat: both set the arena up, and glibc aborts when the second
     * exits ("a->attached_threads > 0"). One call here, before any worker
     * runs, sets it up once. */
    malloc_trim(0);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < n; i++) {
        struct worker *wk = &ws->w[i];

        wk->id = i;
        wk->all = ws;
        wk->max_conns = (ws->max_connections + n - 1) / n;
        if (pthread_create(&wk->thread, NULL, worker_main, wk) != 0) {
            r = -EAGAIN;
            break;
        }
        ws->n = i + 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (unsigned i = 0; i < ws->n; i++)
        sem_wait_intr(&ws->done);
    for (unsigned i = 0; i < ws->n && r == 0; i++)
        r = ws->w[i].start_error;
    if (r < 0) {
        workers_stop(ws, 0);
        return r;
    }
    *out = ws;
    return 0;
}

/* Runs on the worker's thread: the command, then the acknowledgement. */
static void worker_run_cmd(void *arg)
{
    struct worker *wk = arg;

    wk->cmd_result = wk->cmd_fn(wk, wk->cmd_arg);
    sem_post(&wk->all->done);
}

/* Runs fn(worker, arg) on every worker's loop and waits until all are done.
 * Returns 0 or the first -errno a worker returned. Main thread only. */
static int workers_run_all(struct workers *ws, int (*fn)(struct worker *wk, const void *arg),
                           const void *arg)
{
    unsigned posted = 0;
    int r = 0;

    for (unsigned i = 0; i < ws->n; i++) {
        struct worker *wk = &ws->w[i];

        wk->cmd_fn = fn;
        wk->cmd_arg = arg;
        wk->cmd_result = 0;
        if (loop_post(wk->loop, worker_run_cmd, wk) < 0)
            wk->cmd_result = -ENOMEM;
        else
            posted++;
    }
    for (unsigned i = 0; i < posted; i++)
        sem_wait_intr(&ws->done);
    for (unsigned i = 0; i < ws->n && r == 0; i++)
        r = ws->w[i].cmd_result;
    return r;
}

int workers_listen(struct workers *ws, const struct workers_listener *wl)
{
    int r;

    if (wl->n_fds == 0 || (wl->per_worker && wl->n_fds < ws->n))
        return -EINVAL;
    r = workers_run_all(ws, worker_add_listener, wl);
    if (r < 0)
        workers_unlisten(ws, wl);
    return r;
}

void workers_unlisten(struct workers *ws, const struct workers_listener *wl)
{
    workers_run_all(ws, worker_del_listener, wl);
}

static void worker_check_done(struct timer *t)
{
    struct worker *wk = (struct worker *)((char *)t - offsetof(struct worker, stop_timer));

    if (http_server_connections(wk->http) == 0 || loop_now(wk->loop) >= wk->stop_deadline) {
        loop_stop(wk->loop);
        return;
    }
    timer_arm(loop_timers(wk->loop), &wk->stop_timer, loop_now(wk->loop) + 20);
}

/* Runs on the worker's thread. */
static void worker_begin_stop(void *arg)
{
    struct worker *wk = arg;

    wk->stopping = true;
    timer_cancel(loop_timers(wk->loop), &wk->accept_timer);
    worker_unlisten(wk);
    http_server_drain(wk->http);
    timer_init(&wk->stop_timer, worker_check_done);
    worker_check_done(&wk->stop_timer);
}

void workers_stop(struct workers *ws, uint64_t timeout_ms)
{
    for (unsigned i = 0; i < ws->n; i++) {
        struct worker *wk = &ws->w[i];

        if (wk->start_error == 0) {
            struct timespec ts;

            clock_gettime(CLOCK_MONOTONIC, &ts);
            wk->stop_deadline =
                (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + timeout_ms;
            loop_post(wk->loop, worker_begin_stop, wk);
        }
    }
    for (unsigned i = 0; i < ws->n; i++)
        pthread_join(ws->w[i].thread, NULL);
    sem_destroy(&ws->done);
    free(ws->w);
    free(ws);
}

/* Command, first half of a switch: builds this worker's use of the new
 * generation (kept aside, not served yet). */
static int worker_prepare_app(struct worker *wk, const void *arg)
{
    wk->pending = app_worker_new((struct app *)arg);
    if (!wk->pending) {
        log_error("worker %u cannot prepare the new configuration", wk->id);
        return -ENOMEM;
    }
    return 0;
}

/* Command, second half: serves new requests with what the first half
 * built (commit), or drops it (no commit). The old generation's worker
 * state goes once its last request here ends (app.h). */
static int worker_finish_app(struct worker *wk, const void *arg)
{
    const bool *commit = arg;

    if (!wk->pending)
        return 0;
    if (*commit)
        http_server_set_site(wk->http, app_worker_site(wk->pending)); /* the engine takes a ref */
    app_worker_release(wk->pending);
    wk->pending = NULL;
    return 0;
}

int workers_set_app(struct workers *ws, struct app *app)
{
    bool commit;
    int r;

    app_set_observer(app, workers_observe, ws);
    r = workers_run_all(ws, worker_prepare_app, app);
    commit = r == 0;
    workers_run_all(ws, worker_finish_app, &commit);
    return r;
}

static int worker_set_access_fd(struct worker *wk, const void *arg)
{
    if (wk->access_log)
        access_log_set_fd(wk->access_log, *(const int *)arg);
    return 0;
}

void workers_set_access_fd(struct workers *ws, int fd)
{
    workers_run_all(ws, worker_set_access_fd, &fd);
}

uint64_t workers_connections(const struct workers *ws)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < ws->n; i++)
        n += atomic_load_explicit(&http_server_stats(ws->w[i].http)->connections_open,
                                  memory_order_relaxed);
    return n;
}

uint64_t workers_requests(const struct workers *ws)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < ws->n; i++)
        n +=
            atomic_load_explicit(&http_server_stats(ws->w[i].http)->requests, memory_order_relaxed);
    return n;
}

bool workers_alive(const struct workers *ws, uint64_t max_age_ms)
{
    struct timespec ts;
    uint64_t now;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (unsigned i = 0; i < ws->n; i++) {
        uint64_t beat = loop_heartbeat(ws->w[i].loop);

        if (now > beat + max_age_ms)
            return false;
    }
    return true;
}
