/* loop.c - the per-worker event loop: epoll, the clock, timers, coroutine scheduling, posts. */
#include "core/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/sys.h"

enum {
    LOOP_EVENTS = 256,        /* epoll events taken per iteration */
    LOOP_MAX_SLEEP_MS = 1000, /* an idle loop still beats its heartbeat */
    LOOP_POOL_HOT = 64,       /* coroutine stacks kept ready */
    LOOP_POOL_MAX = 1024,     /* coroutine stacks kept mapped */
    LOOP_TRIM_MS = 1000,      /* how often idle stacks give their pages back */
};

/* Misuse that assertions catch: builds without NDEBUG, and sanitizer builds. */
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__)
static const bool loop_checks = true;
#else
static const bool loop_checks = false;
#endif

/* A circular doubly linked list node. */
struct loop_link {
    struct loop_link *prev, *next;
};

/* The loop's record of one of its coroutines. It lives on the coroutine's own
 * stack (in loop_task_main), so spawning allocates nothing but the stack. */
struct loop_task {
    struct loop_link live;   /* in loop->tasks while the body runs */
    struct loop_link queued; /* in loop->runq while a resume is pending */
    struct coro *co;
    struct loop *loop;
    struct timer timer;                /* the deadline of the current wait */
    struct loop_watch *const *watches; /* of the current wait */
    size_t nwatches;
    int reason;        /* what a queued resume passes */
    bool waiting;      /* parked in loop_wait() */
    bool wake_pending; /* loop_wakeup() came while not parked */
};

struct loop_post_item {
    struct loop_post_item *next;
    void (*fn)(void *arg);
    void *arg;
};

struct loop {
    int epfd;
    bool stop;
    struct coro *current;
    struct coro_pool *pool;
    struct timer_wheel timers;
    uint64_t now_ms, now_ns;
    int64_t wall;
    _Atomic uint64_t heartbeat;
    _Atomic uint64_t iterations; /* written by the loop's thread only */
    _Atomic uint64_t idle_ns;    /* time spent in epoll_wait */
    uint64_t started_ns;
    uint64_t trimmed_at;    /* loop time of the last coroutine stack trim */
    struct loop_link tasks; /* live coroutines, in spawn order */
    size_t ntasks;
    struct loop_link runq;        /* coroutines to resume at the end of the iteration */
    struct loop_watch post_watch; /* eventfd kicked by loop_post() */
    pthread_mutex_t post_lock;
    struct loop_post_item *post_head, **post_tail;
    /* The epoll batch being dispatched: loop_watch_del() voids later entries. */
    struct epoll_event events[LOOP_EVENTS];
    int ev_next, ev_count;
};

static void link_init(struct loop_link *l) { l->prev = l->next = l; }

static bool link_empty(const struct loop_link *l) { return l->next == l; }

static void link_add_tail(struct loop_link *head, struct loop_link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

static void link_del(struct loop_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    link_init(l);
}

/* Moves every node of from onto the empty list to. */
static void link_move(struct loop_link *from, struct loop_link *to)
{
    link_init(to);
    if (link_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    link_init(from);
}

static struct loop_task *task_of_live(struct loop_link *l)
{
    return (struct loop_task *)((char *)l - offsetof(struct loop_task, live));
}

static struct loop_task *task_of_queued(struct loop_link *l)
{
    return (struct loop_task *)((char *)l - offsetof(struct loop_task, queued));
}

static struct loop_task *task_of_timer(struct timer *t)
{
    return (struct loop_task *)((char *)t - offsetof(struct loop_task, timer));
}

static uint64_t clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

void loop_load(const struct loop *loop, uint64_t *iterations, uint64_t *busy_ns, uint64_t *idle_ns)
{
    uint64_t idle = atomic_load_explicit(&loop->idle_ns, memory_order_relaxed);
    uint64_t alive = clock_ns() - loop->started_ns;

    *iterations = atomic_load_explicit(&loop->iterations, memory_order_relaxed);
    *idle_ns = idle;
    *busy_ns = alive > idle ? alive - idle : 0;
}

void loop_clock_update(struct loop *loop)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    loop->now_ns = (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
    loop->now_ms = loop->now_ns / UINT64_C(1000000);
    clock_gettime(CLOCK_REALTIME, &ts);
    loop->wall = (int64_t)ts.tv_sec;
}

uint64_t loop_now(const struct loop *loop) { return loop->now_ms; }

uint64_t loop_now_ns(const struct loop *loop) { return loop->now_ns; }

int64_t loop_wall(const struct loop *loop) { return loop->wall; }

struct timer_wheel *loop_timers(struct loop *loop) { return &loop->timers; }

struct coro *loop_current(const struct loop *loop) { return loop->current; }

size_t loop_coroutines(const struct loop *loop) { return loop->ntasks; }

size_t loop_release_stacks(struct loop *loop) { return coro_pool_shrink(loop->pool); }

uint64_t loop_heartbeat(const struct loop *loop)
{
    return atomic_load_explicit(&loop->heartbeat, memory_order_relaxed);
}

void loop_stop(struct loop *loop) { loop->stop = true; }

/* Runs co until it parks or finishes; a finished coroutine is freed. */
static void loop_resume(struct loop *loop, struct coro *co, int value)
{
    struct coro *prev = loop->current;
    struct loop_task *task = coro_data(co);
    int rc;

    if (task)
        link_del(&task->queued);
    loop->current = co;
    rc = coro_resume(co, value);
    loop->current = prev;
    if (rc == CORO_FINISHED)
        coro_free(co);
}

/* Ends task's wait: its watches forget it and its deadline is disarmed, so
 * nothing but the caller resumes it. */
static void loop_end_wait(struct loop *loop, struct loop_task *task)
{
    for (size_t i = 0; i < task->nwatches; i++) {
        struct loop_watch *w = task->watches[i];

        if (w->waiter == task->co) {
            w->waiter = NULL;
            w->wait = 0;
        }
        if (w->waiter2 == task->co) {
            w->waiter2 = NULL;
            w->wait2 = 0;
        }
    }
    task->watches = NULL;
    task->nwatches = 0;
    task->waiting = false;
    timer_cancel(&loop->timers, &task->timer);
}

/* Queues task for a resume with reason at the end of this iteration. */
static void loop_enqueue(struct loop *loop, struct loop_task *task, int reason)
{
    task->reason = reason;
    if (link_empty(&task->queued))
        link_add_tail(&loop->runq, &task->queued);
}

/* Resumes what was queued before this call; later queueing waits for the
 * next iteration, so this ends. */
static void loop_run_queue(struct loop *loop)
{
    struct loop_link batch;

    link_move(&loop->runq, &batch);
    while (!link_empty(&batch)) {
        struct loop_task *task = task_of_queued(batch.next);

        link_del(&task->queued);
        loop_resume(loop, task->co, task->reason);
    }
}

static void loop_task_timeout(struct timer *t)
{
    struct loop_task *task = task_of_timer(t);

    loop_end_wait(task->loop, task);
    loop_resume(task->loop, task->co, LOOP_WAKE_TIMEOUT);
}

static uint32_t loop_fold(uint32_t events)
{
    uint32_t bits = 0;

    if (events & EPOLLIN)
        bits |= LOOP_READ;
    if (events & EPOLLRDHUP)
        bits |= LOOP_READ | LOOP_EOF;
    if (events & EPOLLOUT)
        bits |= LOOP_WRITE;
    if (events & (EPOLLHUP | EPOLLERR))
        bits |= LOOP_HUP | LOOP_READ | LOOP_WRITE;
    return bits;
}

/* The waiter of a slot if the edges in bits concern it, else NULL. */
static struct coro *loop_slot_woken(struct coro *waiter, uint32_t wait, uint32_t bits)
{
    return waiter && (bits & (wait | LOOP_HUP)) ? waiter : NULL;
}

/* Records the edges on w, then resumes the waiters they concern, or calls
 * on_event when nobody waits. With two waiters to wake, the second is
 * queued for the end of the iteration: the first may free w. */
static void loop_dispatch(struct loop *loop, struct loop_watch *w, uint32_t events)
{
    uint32_t bits = loop_fold(events);
    struct coro *first, *second;
    struct loop_task *task;

    w->ready |= bits;
    bits &= LOOP_READ | LOOP_WRITE | LOOP_HUP;
    if (!w->waiter && !w->waiter2) {
        if (w->on_event)
            w->on_event(w, bits);
        return;
    }
    first = loop_slot_woken(w->waiter, w->wait, bits);
    second = loop_slot_woken(w->waiter2, w->wait2, bits);
    if (!first) {
        first = second;
        second = NULL;
    }
    if (second && second != first) {
        task = coro_data(second);
        loop_end_wait(loop, task);
        loop_enqueue(loop, task, LOOP_WAKE_IO);
    }
    if (first) {
        task = coro_data(first);
        loop_end_wait(loop, task);
        loop_resume(loop, task->co, LOOP_WAKE_IO);
    }
}

static void loop_dispatch_events(struct loop *loop, int n)
{
    loop->ev_count = n;
    loop->ev_next = 0;
    while (loop->ev_next < loop->ev_count) {
        struct epoll_event *ev = &loop->events[loop->ev_next++];

        if (ev->data.ptr)
            loop_dispatch(loop, ev->data.ptr, ev->events);
    }
    loop->ev_count = 0;
    loop->ev_next = 0;
}

/* The epoll_wait timeout: 0 when work is queued, else until the next timer,
 * at most LOOP_MAX_SLEEP_MS. */
static int loop_timeout(struct loop *loop)
{
    int64_t next;

    if (loop->stop || !link_empty(&loop->runq))
        return 0;
    next = timer_wheel_next(&loop->timers);
    if (next < 0 || next > LOOP_MAX_SLEEP_MS)
        return LOOP_MAX_SLEEP_MS;
    return (int)next;
}

/* One iteration: wait, read the clock, dispatch events, fire timers, resume
 * the queued coroutines. */
static int loop_iterate(struct loop *loop)
{
    int timeout = loop_timeout(loop);
    uint64_t before = timeout ? clock_ns() : 0; /* no wait, no idle time */
    int n = sys_epoll_wait(loop->epfd, loop->events, LOOP_EVENTS, timeout);

    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0;
    }
    loop_clock_update(loop);
    if (before && loop->now_ns > before)
        atomic_store_explicit(&loop->idle_ns,
                              atomic_load_explicit(&loop->idle_ns, memory_order_relaxed) +
                                  (loop->now_ns - before),
                              memory_order_relaxed);
    atomic_store_explicit(&loop->iterations,
                          atomic_load_explicit(&loop->iterations, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&loop->heartbeat, loop->now_ms, memory_order_relaxed);
    loop_dispatch_events(loop, n);
    timer_wheel_advance(&loop->timers, loop->now_ms);
    loop_run_queue(loop);
    if (loop->now_ms - loop->trimmed_at >= LOOP_TRIM_MS) {
        coro_pool_trim(loop->pool);
        loop->trimmed_at = loop->now_ms;
    }
    return 0;
}

int loop_run(struct loop *loop)
{
    int rc;

    do {
        rc = loop_iterate(loop);
    } while (rc == 0 && !loop->stop);
    loop->stop = false;
    return rc;
}

void loop_watch_add_lazy(struct loop *loop, struct loop_watch *w)
{
    w->loop = loop;
    w->ready = LOOP_READ | LOOP_WRITE;
    w->wait = w->wait2 = 0;
    w->waiter = w->waiter2 = NULL;
    w->deferred = true;
}

int loop_watch_arm(struct loop_watch *w)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.ptr = w,
    };

    if (!w->loop)
        return -EBADF;
    if (!w->deferred)
        return 0;
    if (epoll_ctl(w->loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -errno;
    w->deferred = false;
    return 0;
}

int loop_watch_add(struct loop *loop, struct loop_watch *w)
{
    int r;

    loop_watch_add_lazy(loop, w);
    r = loop_watch_arm(w);
    if (r < 0)
        w->loop = NULL;
    return r;
}

int loop_watch_add_exclusive(struct loop *loop, struct loop_watch *w)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLET | EPOLLEXCLUSIVE,
        .data.ptr = w,
    };

    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -errno;
    w->loop = loop;
    w->ready = LOOP_READ;
    w->wait = w->wait2 = 0;
    w->waiter = w->waiter2 = NULL;
    w->deferred = false;
    return 0;
}

/* Forgets w: later events of this batch are voided, its waiter woken. */
static int loop_watch_drop(struct loop_watch *w, bool ctl)
{
    struct loop *loop = w->loop;
    int rc = 0;

    if (!loop)
        return -EINVAL;
    if (ctl && !w->deferred && epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL) < 0)
        rc = -errno;
    for (int i = loop->ev_next; i < loop->ev_count; i++) {
        if (loop->events[i].data.ptr == w)
            loop->events[i].data.ptr = NULL;
    }
    for (int slot = 0; slot < 2; slot++) {
        struct coro *waiter = slot == 0 ? w->waiter : w->waiter2;
        struct loop_task *task = waiter ? coro_data(waiter) : NULL;

        if (task) {
            loop_end_wait(loop, task);
            loop_enqueue(loop, task, LOOP_WAKE_IO);
        }
    }
    w->loop = NULL;
    w->ready = 0;
    return rc;
}

int loop_watch_del(struct loop_watch *w) { return loop_watch_drop(w, true); }

/* Held for reading while a child process is being made (it copies every
 * descriptor until it execs), for writing by a close that relies on epoll
 * forgetting the descriptor by itself. Process-wide: so is the fd table. */
static pthread_rwlock_t loop_children = PTHREAD_RWLOCK_INITIALIZER;

void loop_child_begin(void) { pthread_rwlock_rdlock(&loop_children); }

void loop_child_end(void) { pthread_rwlock_unlock(&loop_children); }

int loop_watch_close(struct loop_watch *w)
{
    /* No child is being made: closing the last descriptor of the socket
     * makes epoll forget it, no epoll_ctl needed. Else a child may hold a
     * copy, and epoll would go on reporting it to a watch freed meanwhile:
     * unregister it first. */
    bool alone = pthread_rwlock_trywrlock(&loop_children) == 0;
    int rc = loop_watch_drop(w, !alone);

    if (close(w->fd) < 0 && rc == 0)
        rc = -errno;
    if (alone)
        pthread_rwlock_unlock(&loop_children);
    return rc;
}

struct loop_start {
    struct loop *loop;
    coro_fn fn;
    void *arg;
};

/* The body of every loop coroutine: registers its task, runs fn, unregisters. */
static void loop_task_main(struct coro *co, void *arg)
{
    const struct loop_start *start = arg;
    struct loop *loop = start->loop;
    coro_fn fn = start->fn;
    void *fn_arg = start->arg;
    struct loop_task task = {.co = co, .loop = loop};

    link_init(&task.queued);
    timer_init(&task.timer, loop_task_timeout);
    link_add_tail(&loop->tasks, &task.live);
    loop->ntasks++;
    coro_set_data(co, &task);
    fn(co, fn_arg);
    coro_set_data(co, NULL);
    link_del(&task.live);
    loop->ntasks--;
}

struct coro *loop_spawn(struct loop *loop, coro_fn fn, void *arg)
{
    struct loop_start start = {.loop = loop, .fn = fn, .arg = arg};
    struct coro *co = coro_new(loop->pool, loop_task_main, &start);

    if (!co) {
        errno = ENOMEM;
        return NULL;
    }
    loop_resume(loop, co, 0);
    return co;
}

/* True when co may not wait on w for want: another coroutine waits on it
 * for one of those directions, or both slots are taken. */
static bool loop_watch_taken(const struct loop_watch *w, const struct coro *co, uint32_t want)
{
    return (w->waiter && w->waiter != co && (w->wait & want)) ||
           (w->waiter2 && w->waiter2 != co && (w->wait2 & want)) || (w->waiter && w->waiter2) ||
           !(want & (LOOP_READ | LOOP_WRITE));
}

/* A second waiter for one direction of w: loud in checked builds. */
static int loop_refuse_waiter(const struct loop_watch *w, uint32_t want)
{
    if (loop_checks) {
        fprintf(stderr, "loop: fd %d: a second coroutine waits for %s%s on it\n", w->fd,
                want & LOOP_READ ? "reading" : "", want & LOOP_WRITE ? " writing" : "");
        abort();
    }
    return LOOP_WAKE_BUSY;
}

/* Puts co in a free slot of w (loop_watch_taken() said there is one). */
static void loop_watch_take(struct loop_watch *w, struct coro *co, uint32_t want)
{
    if (!w->waiter) {
        w->waiter = co;
        w->wait = want;
    } else {
        w->waiter2 = co;
        w->wait2 = want;
    }
}

int loop_wait(struct loop *loop, struct loop_watch *const *watches, const uint32_t *wait, size_t n,
              uint64_t deadline)
{
    struct coro *co = loop->current;
    struct loop_task *task = co ? coro_data(co) : NULL;
    int reason;

    if (!task)
        abort(); /* not inside a coroutine of this loop */
    if (task->wake_pending) {
        task->wake_pending = false;
        return LOOP_WAKE_WAKEUP;
    }
    if (deadline && deadline <= loop->now_ms)
        return LOOP_WAKE_TIMEOUT;
    for (size_t i = 0; i < n; i++) {
        if (loop_watch_taken(watches[i], co, wait[i]))
            return loop_refuse_waiter(watches[i], wait[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (loop_watch_arm(watches[i]) < 0)
            return LOOP_WAKE_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        loop_watch_take(watches[i], co, wait[i]);
    task->watches = watches;
    task->nwatches = n;
    task->waiting = true;
    if (deadline)
        timer_arm(&loop->timers, &task->timer, deadline);
    reason = coro_yield(co, 0);
    if (task->waiting)
        loop_end_wait(loop, task);
    return reason;
}

void loop_wakeup(struct loop *loop, struct coro *co)
{
    struct loop_task *task = coro_data(co);

    if (!task)
        return;
    if (task->waiting) {
        loop_end_wait(loop, task);
        loop_enqueue(loop, task, LOOP_WAKE_WAKEUP);
    } else if (link_empty(&task->queued) || task->reason != LOOP_WAKE_WAKEUP) {
        /* Running, or about to be resumed for another reason: its next
         * loop_wait() returns LOOP_WAKE_WAKEUP at once. */
        task->wake_pending = true;
    }
}

/* The eventfd's callback: runs the posts queued so far. */
static void loop_post_event(struct loop_watch *w, uint32_t events)
{
    struct loop *loop = w->loop;
    struct loop_post_item *item, *next;
    uint64_t count;

    (void)events;
    if (read(w->fd, &count, sizeof count) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&loop->post_lock);
    item = loop->post_head;
    loop->post_head = NULL;
    loop->post_tail = &loop->post_head;
    pthread_mutex_unlock(&loop->post_lock);
    for (; item; item = next) {
        next = item->next;
        item->fn(item->arg);
        free(item);
    }
}

int loop_post(struct loop *loop, void (*fn)(void *arg), void *arg)
{
    struct loop_post_item *item = malloc(sizeof *item);
    uint64_t one = 1;
    ssize_t rc;

    if (!item)
        return -ENOMEM;
    *item = (struct loop_post_item){.next = NULL, .fn = fn, .arg = arg};
    pthread_mutex_lock(&loop->post_lock);
    *loop->post_tail = item;
    loop->post_tail = &item->next;
    pthread_mutex_unlock(&loop->post_lock);
    /* Only EAGAIN can fail here, when the counter is huge: the loop is
     * woken anyway. */
    rc = write(loop->post_watch.fd, &one, sizeof one);
    (void)rc;
    return 0;
}

/* Cancels every live coroutine: its wait ends and coro_free() runs its
 * defers here. Each pass frees one; a defer must not spawn. */
static void loop_cancel_all(struct loop *loop)
{
    while (!link_empty(&loop->tasks)) {
        struct loop_task *task = task_of_live(loop->tasks.next);
        struct coro *co = task->co;

        loop_end_wait(loop, task);
        link_del(&task->queued);
        link_del(&task->live);
        loop->ntasks--;
        coro_set_data(co, NULL);
        coro_free(co);
    }
}

/* Releases what loop_new() acquired; any field may still be unset. */
static void loop_release(struct loop *loop)
{
    struct loop_post_item *item, *next;

    for (item = loop->post_head; item; item = next) {
        next = item->next;
        free(item);
    }
    if (loop->post_watch.loop)
        loop_watch_del(&loop->post_watch);
    if (loop->post_watch.fd >= 0)
        close(loop->post_watch.fd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    coro_pool_free(loop->pool);
    pthread_mutex_destroy(&loop->post_lock);
    free(loop);
}

struct loop *loop_new(size_t stack_size)
{
    struct loop *loop = calloc(1, sizeof *loop);
    int err;

    if (!loop)
        return NULL;
    loop->epfd = -1;
    loop->post_watch = (struct loop_watch){.fd = -1, .on_event = loop_post_event};
    loop->post_tail = &loop->post_head;
    link_init(&loop->tasks);
    link_init(&loop->runq);
    pthread_mutex_init(&loop->post_lock, NULL);
    loop_clock_update(loop);
    loop->started_ns = loop->now_ns;
    timer_wheel_init(&loop->timers, loop->now_ms);
    atomic_store_explicit(&loop->heartbeat, loop->now_ms, memory_order_relaxed);
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail;
    loop->pool = coro_pool_new(stack_size, LOOP_POOL_HOT, LOOP_POOL_MAX);
    if (!loop->pool)
        goto fail;
    loop->post_watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->post_watch.fd < 0)
        goto fail;
    err = loop_watch_add(loop, &loop->post_watch);
    if (err < 0) {
        errno = -err;
        goto fail;
    }
    return loop;
fail:
    err = errno;
    loop_release(loop);
    errno = err;
    return NULL;
}

void loop_free(struct loop *loop)
{
    if (!loop)
        return;
    loop_cancel_all(loop);
    loop_release(loop);
}
