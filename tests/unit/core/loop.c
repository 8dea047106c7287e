/* Tests of server/core/loop.c: spawning, waits, wakeups, watches, timers, posts, cancellation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"

#include "loop_test.h"

/* ---- spawning ---- */

struct counter {
    struct loop *loop;
    int steps;
    struct coro *self;
    bool current_ok;
};

static void count_body(struct coro *co, void *arg)
{
    struct counter *c = arg;

    c->self = co;
    c->current_ok = loop_current(c->loop) == co;
    c->steps++;
}

Test(loop, spawn_runs_at_once_and_frees_the_finished_coroutine)
{
    struct loop *loop = loop_new(STACK);
    struct counter c = {.loop = NULL};

    cr_assert_not_null(loop);
    c.loop = loop;
    cr_assert_eq(loop_coroutines(loop), 0);
    struct coro *co = loop_spawn(loop, count_body, &c);
    cr_assert_not_null(co);
    cr_assert_eq(c.steps, 1, "the body ran before loop_spawn returned");
    cr_assert_eq(c.self, co);
    cr_assert(c.current_ok);
    cr_assert_null(loop_current(loop), "outside any coroutine again");
    cr_assert_eq(loop_coroutines(loop), 0, "a finished coroutine is gone");
    loop_free(loop);
}

/* ---- waiting: timeouts and wakeups ---- */

struct waiter {
    struct loop *loop;
    struct coro *co;
    uint64_t deadline;
    int reason;
    int resumes;
    uint64_t woke_at;
    bool done;
};

static void wait_body(struct coro *co, void *arg)
{
    struct waiter *wt = arg;

    wt->co = co;
    wt->reason = loop_wait(wt->loop, NULL, NULL, 0, wt->deadline);
    wt->resumes++;
    wt->woke_at = loop_now(wt->loop);
    wt->done = true;
}

static void stop_when_done(struct coro *co, void *arg)
{
    struct waiter *wts = arg;

    for (int i = 0; i < 100 && !(wts[0].done && wts[1].done); i++)
        loop_wait(wts[0].loop, NULL, NULL, 0, loop_now(wts[0].loop) + 5);
    (void)co;
    loop_stop(wts[0].loop);
}

Test(loop, wait_times_out_at_its_deadline_and_not_before)
{
    struct loop *loop = loop_new(STACK);
    struct waiter wts[2] = {{.loop = loop}, {.loop = loop}};

    wts[0].deadline = loop_now(loop) + 30;
    wts[1].deadline = loop_now(loop) + 60;
    loop_spawn(loop, wait_body, &wts[1]);
    loop_spawn(loop, wait_body, &wts[0]);
    cr_assert_eq(loop_coroutines(loop), 2);
    cr_assert_not(wts[0].done);
    loop_spawn(loop, stop_when_done, wts);
    run(loop);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(wts[i].reason, LOOP_WAKE_TIMEOUT);
        cr_assert_eq(wts[i].resumes, 1);
        cr_assert_geq(wts[i].woke_at, wts[i].deadline, "woken no earlier than the deadline");
    }
    cr_assert_eq(loop_coroutines(loop), 0);
    loop_free(loop);
}

Test(loop, past_deadline_returns_without_yielding)
{
    struct loop *loop = loop_new(STACK);
    struct waiter wt = {.loop = loop, .deadline = 1};

    loop_spawn(loop, wait_body, &wt);
    cr_assert(wt.done, "no yield for a deadline already past");
    cr_assert_eq(wt.reason, LOOP_WAKE_TIMEOUT);
    loop_free(loop);
}

struct waker {
    struct loop *loop;
    struct waiter *target;
    int times;
};

static void wake_body(struct coro *co, void *arg)
{
    struct waker *wk = arg;

    (void)co;
    for (int i = 0; i < wk->times; i++)
        loop_wakeup(wk->loop, wk->target->co);
}

Test(loop, wakeup_resumes_once_even_when_woken_twice)
{
    struct loop *loop = loop_new(STACK);
    struct waiter wts[2] = {{.loop = loop}, {.loop = loop, .done = true}};
    struct waker wk = {.loop = loop, .target = &wts[0], .times = 2};

    wts[0].deadline = loop_now(loop) + 5000;
    loop_spawn(loop, wait_body, &wts[0]);
    loop_spawn(loop, wake_body, &wk);
    cr_assert_not(wts[0].done, "the wakeup happens at the next iteration");
    loop_spawn(loop, stop_when_done, wts);
    run(loop);
    cr_assert_eq(wts[0].reason, LOOP_WAKE_WAKEUP);
    cr_assert_eq(wts[0].resumes, 1);
    cr_assert_lt(wts[0].woke_at, wts[0].deadline);
    loop_free(loop);
}

struct self_wake {
    struct loop *loop;
    int first, second;
};

static void self_wake_body(struct coro *co, void *arg)
{
    struct self_wake *sw = arg;

    loop_wakeup(sw->loop, co);
    sw->first = loop_wait(sw->loop, NULL, NULL, 0, 0);
    sw->second = loop_wait(sw->loop, NULL, NULL, 0, loop_now(sw->loop) + 1);
    loop_stop(sw->loop);
}

Test(loop, wakeup_of_a_running_coroutine_ends_its_next_wait)
{
    struct loop *loop = loop_new(STACK);
    struct self_wake sw = {.loop = loop};

    loop_spawn(loop, self_wake_body, &sw);
    cr_assert_eq(sw.first, LOOP_WAKE_WAKEUP, "returned at once");
    run(loop);
    cr_assert_eq(sw.second, LOOP_WAKE_TIMEOUT, "the wakeup was used up");
    loop_free(loop);
}

/* ---- watches ---- */

static int stray_events;

static void stray_event(struct loop_watch *w, uint32_t events)
{
    (void)w;
    (void)events;
    stray_events++;
}

static void stop_soon(struct coro *co, void *arg);

/* Runs the loop for about 20 ms. */
static void run_briefly(struct loop *loop)
{
    loop_spawn(loop, stop_soon, loop);
    run(loop);
}

struct fd_waiter {
    struct loop *loop;
    struct loop_watch w;
    int reason;
    uint32_t ready;
    bool done;
};

static void fd_wait_body(struct coro *co, void *arg)
{
    struct fd_waiter *fw = arg;
    struct loop_watch *ws[1] = {&fw->w};
    uint32_t mask[1] = {LOOP_READ};

    (void)co;
    fw->w.ready = 0;
    fw->reason = loop_wait(fw->loop, ws, mask, 1, loop_now(fw->loop) + 5000);
    fw->ready = fw->w.ready;
    fw->done = true;
    loop_stop(fw->loop);
}

/* A new loop and fw waiting on sv[0], one end of a new socketpair. */
static struct loop *waiter_setup(struct fd_waiter *fw, int sv[2])
{
    struct loop *loop = loop_new(STACK);

    cr_assert_not_null(loop);
    *fw = (struct fd_waiter){.loop = loop};
    make_pair(sv);
    fw->w.fd = sv[0];
    return loop;
}

Test(loop, readable_fd_resumes_its_waiter_with_io)
{
    struct fd_waiter fw;
    int sv[2];
    struct loop *loop = waiter_setup(&fw, sv);

    cr_assert_eq(loop_watch_add(loop, &fw.w), 0);
    cr_assert_eq(fw.w.ready, LOOP_READ | LOOP_WRITE, "assumed ready until a syscall says no");
    fw.w.on_event = stray_event;
    stray_events = 0;
    loop_spawn(loop, fd_wait_body, &fw);
    cr_assert_not_null(fw.w.waiter);
    cr_assert_eq(fw.w.wait, LOOP_READ);
    run_briefly(loop); /* the writable edge comes and must not resume it */
    cr_assert_not(fw.done);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    run(loop);
    cr_assert_eq(stray_events, 0, "on_event is not called while a coroutine waits");
    cr_assert_eq(fw.reason, LOOP_WAKE_IO);
    cr_assert(fw.ready & LOOP_READ);
    cr_assert_null(fw.w.waiter, "the wait is over");
    cr_assert_eq(fw.w.wait, 0);
    cr_assert_eq(loop_watch_del(&fw.w), 0);
    close(sv[0]);
    close(sv[1]);
    loop_free(loop);
}

Test(loop, hangup_ends_a_wait_for_something_else)
{
    struct fd_waiter fw;
    int sv[2];
    struct loop *loop = waiter_setup(&fw, sv);

    cr_assert_eq(loop_watch_add(loop, &fw.w), 0);
    loop_spawn(loop, fd_wait_body, &fw);
    close(sv[1]);
    run(loop);
    cr_assert_eq(fw.reason, LOOP_WAKE_IO);
    cr_assert(fw.ready & LOOP_READ);
    cr_assert_eq(loop_watch_del(&fw.w), 0);
    close(sv[0]);
    loop_free(loop);
}

/* ---- lazily added watches ---- */

/* True when an epoll instance of this process has fd registered: its
 * /proc/self/fdinfo lists a "tfd:" line per registered descriptor. */
static bool epoll_has(int fd)
{
    char path[64], link[64], line[256];
    bool found = false;

    for (int e = 0; e < 1024 && !found; e++) {
        ssize_t n;
        FILE *f;

        snprintf(path, sizeof path, "/proc/self/fd/%d", e);
        n = readlink(path, link, sizeof link - 1);
        if (n < 0)
            continue;
        link[n] = '\0';
        if (strcmp(link, "anon_inode:[eventpoll]") != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", e);
        f = fopen(path, "r");
        cr_assert_not_null(f);
        while (!found && fgets(line, sizeof line, f)) {
            int tfd;

            if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd)
                found = true;
        }
        fclose(f);
    }
    return found;
}

Test(loop, lazy_watch_is_registered_only_when_a_coroutine_waits)
{
    struct fd_waiter fw;
    int sv[2];
    struct loop *loop = waiter_setup(&fw, sv);

    loop_watch_add_lazy(loop, &fw.w);
    cr_assert_eq(fw.w.ready, LOOP_READ | LOOP_WRITE, "assumed ready until a syscall says no");
    cr_assert_not(epoll_has(sv[0]), "nothing waits yet: no epoll_ctl");
    loop_spawn(loop, fd_wait_body, &fw);
    cr_assert(epoll_has(sv[0]), "the wait registered it");
    cr_assert_eq(write(sv[1], "x", 1), 1);
    run(loop);
    cr_assert_eq(fw.reason, LOOP_WAKE_IO);
    cr_assert(fw.ready & LOOP_READ);
    cr_assert_eq(loop_watch_close(&fw.w), 0);
    cr_assert_not(epoll_has(sv[0]));
    close(sv[1]);
    loop_free(loop);
}

Test(loop, lazy_watch_sees_input_that_came_before_its_registration)
{
    struct fd_waiter fw;
    int sv[2];
    struct loop *loop = waiter_setup(&fw, sv);

    loop_watch_add_lazy(loop, &fw.w);
    cr_assert_eq(write(sv[1], "x", 1), 1, "the edge happens while unregistered");
    loop_spawn(loop, fd_wait_body, &fw);
    run(loop);
    cr_assert(fw.done);
    cr_assert_eq(fw.reason, LOOP_WAKE_IO);
    cr_assert(fw.ready & LOOP_READ);
    cr_assert_eq(loop_watch_del(&fw.w), 0);
    close(sv[0]);
    close(sv[1]);
    loop_free(loop);
}

Test(loop, lazy_watch_never_waited_for_closes_without_registration)
{
    struct loop *loop = loop_new(STACK);
    struct loop_watch w = {.fd = -1};
    int sv[2];

    make_pair(sv);
    w.fd = sv[0];
    loop_watch_add_lazy(loop, &w);
    cr_assert_eq(loop_watch_del(&w), 0, "no EPOLL_CTL_DEL of an fd epoll never had");
    cr_assert_null(w.loop);
    close(sv[0]);
    close(sv[1]);
    loop_free(loop);
}

Test(loop, armed_lazy_watch_calls_on_event_with_no_waiter)
{
    struct loop *loop = loop_new(STACK);
    struct loop_watch w = {.fd = -1, .on_event = stray_event};
    int sv[2];

    make_pair(sv);
    w.fd = sv[0];
    loop_watch_add_lazy(loop, &w);
    cr_assert_eq(loop_watch_arm(&w), 0);
    cr_assert_eq(loop_watch_arm(&w), 0, "arming twice is harmless");
    cr_assert(epoll_has(sv[0]));
    stray_events = 0;
    cr_assert_eq(write(sv[1], "x", 1), 1);
    run_briefly(loop);
    cr_assert_gt(stray_events, 0, "the readable edge reached on_event");
    cr_assert_eq(loop_watch_close(&w), 0);
    close(sv[1]);
    loop_free(loop);
}

static void del_watch_body(struct coro *co, void *arg)
{
    struct fd_waiter *fw = arg;

    (void)co;
    cr_assert_eq(loop_watch_del(&fw->w), 0);
}

Test(loop, deleting_a_watch_wakes_its_waiter)
{
    struct fd_waiter fw;
    int sv[2];
    struct loop *loop = waiter_setup(&fw, sv);

    cr_assert_eq(loop_watch_add(loop, &fw.w), 0);
    loop_spawn(loop, fd_wait_body, &fw);
    loop_spawn(loop, del_watch_body, &fw);
    cr_assert_null(fw.w.waiter);
    cr_assert_null(fw.w.loop);
    run(loop);
    cr_assert(fw.done);
    cr_assert_eq(fw.reason, LOOP_WAKE_IO);
    close(sv[0]);
    close(sv[1]);
    loop_free(loop);
}

/* Two watches ready in one epoll batch; whichever is dispatched first
 * deletes and frees the other, whose stale event must be ignored. */
struct owned_watch {
    struct loop_watch w;
    struct owned_watch **other;
    int *calls;
};

static void delete_other(struct loop_watch *w, uint32_t events)
{
    struct owned_watch *self = (struct owned_watch *)w;
    struct owned_watch *victim = *self->other;

    (void)events;
    (*self->calls)++;
    if (victim) {
        cr_assert_eq(loop_watch_del(&victim->w), 0);
        *self->other = NULL;
        free(victim);
    }
}

static struct owned_watch *slots[2];

/* Parks 20 ms, then stops the loop. */
static void stop_soon(struct coro *co, void *arg)
{
    struct loop *loop = arg;

    (void)co;
    loop_wait(loop, NULL, NULL, 0, loop_now(loop) + 20);
    loop_stop(loop);
}

Test(loop, events_of_a_watch_deleted_during_the_batch_are_dropped)
{
    struct loop *loop = loop_new(STACK);
    int a[2], b[2], calls = 0;

    make_pair(a);
    make_pair(b);
    for (int i = 0; i < 2; i++) {
        slots[i] = calloc(1, sizeof *slots[i]);
        slots[i]->w.fd = i == 0 ? a[0] : b[0];
        slots[i]->w.on_event = delete_other;
        slots[i]->calls = &calls;
        cr_assert_eq(loop_watch_add(loop, &slots[i]->w), 0);
    }
    slots[0]->other = &slots[1];
    slots[1]->other = &slots[0];
    cr_assert_eq(write(a[1], "x", 1), 1);
    cr_assert_eq(write(b[1], "y", 1), 1);
    run_briefly(loop);
    cr_assert_eq(calls, 1, "only the surviving watch saw its event");
    for (int i = 0; i < 2; i++) {
        if (slots[i]) {
            cr_assert_eq(loop_watch_del(&slots[i]->w), 0);
            free(slots[i]);
        }
    }
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    loop_free(loop);
}

struct event_count {
    struct loop_watch w;
    int calls;
    uint32_t last;
};

static void count_event(struct loop_watch *w, uint32_t events)
{
    struct event_count *ec = (struct event_count *)w;

    ec->calls++;
    ec->last = events;
}

Test(loop, on_event_gets_folded_edges_when_nobody_waits)
{
    struct loop *loop = loop_new(STACK);
    struct event_count ec = {.w.on_event = count_event};
    int sv[2];

    make_pair(sv);
    ec.w.fd = sv[0];
    cr_assert_eq(loop_watch_add(loop, &ec.w), 0);
    run_briefly(loop);
    int initial = ec.calls; /* the first edge: writable */
    cr_assert_eq(write(sv[1], "x", 1), 1);
    run_briefly(loop);
    cr_assert_eq(ec.calls, initial + 1);
    cr_assert(ec.last & LOOP_READ);
    cr_assert_eq(ec.last & ~(uint32_t)(LOOP_READ | LOOP_WRITE | LOOP_HUP), 0, "only LOOP_* bits");
    cr_assert_eq(loop_watch_del(&ec.w), 0);
    close(sv[0]);
    close(sv[1]);
    loop_free(loop);
}

/* ---- timers, clock, heartbeat ---- */

struct tick {
    struct timer t;
    struct loop *loop;
    int fired;
    uint64_t at;
};

static void tick_cb(struct timer *t)
{
    struct tick *tk = (struct tick *)t;

    tk->fired++;
    tk->at = loop_now(tk->loop);
    loop_stop(tk->loop);
}

Test(loop, owner_timers_fire_from_the_loop_and_the_clock_moves)
{
    struct loop *loop = loop_new(STACK);
    struct tick tk = {.loop = loop};
    uint64_t start = loop_now(loop), beat = loop_heartbeat(loop);
    struct timespec wall0, wall1;

    clock_gettime(CLOCK_REALTIME, &wall0);

    timer_init(&tk.t, tick_cb);
    timer_arm(loop_timers(loop), &tk.t, start + 25);
    run(loop);
    clock_gettime(CLOCK_REALTIME, &wall1);
    cr_assert_eq(tk.fired, 1);
    cr_assert_geq(tk.at, start + 25);
    cr_assert_geq(loop_heartbeat(loop), beat + 25, "the heartbeat follows the iterations");
    cr_assert_eq(loop_now_ns(loop) / 1000000, loop_now(loop));
    cr_assert_geq(loop_wall(loop), (int64_t)wall0.tv_sec);
    cr_assert_leq(loop_wall(loop), (int64_t)wall1.tv_sec);
    loop_free(loop);
}

Test(loop, stop_before_run_returns_after_one_iteration)
{
    struct loop *loop = loop_new(STACK);

    loop_stop(loop);
    cr_assert_eq(loop_run(loop), 0);
    loop_free(loop);
}

/* ---- posts from other threads ---- */

#define NPOSTS 1000

struct post_state {
    struct loop *loop;
    pthread_t loop_thread;
    int runs;
    int wrong_thread;
    int out_of_order;
};

static void post_cb(void *arg)
{
    struct post_state *ps = arg;

    if (!pthread_equal(pthread_self(), ps->loop_thread))
        ps->wrong_thread++;
    ps->runs++;
    if (ps->runs == NPOSTS)
        loop_stop(ps->loop);
}

static void *poster(void *arg)
{
    struct post_state *ps = arg;

    for (int i = 0; i < NPOSTS; i++) {
        if (loop_post(ps->loop, post_cb, ps) != 0)
            break;
    }
    return NULL;
}

Test(loop, posts_from_another_thread_all_run_on_the_loop_thread)
{
    struct post_state ps = {.loop = loop_new(STACK), .loop_thread = pthread_self()};
    pthread_t th;

    cr_assert_not_null(ps.loop);
    cr_assert_eq(pthread_create(&th, NULL, poster, &ps), 0);
    run(ps.loop);
    pthread_join(th, NULL);
    cr_assert_eq(ps.runs, NPOSTS);
    cr_assert_eq(ps.wrong_thread, 0);
    loop_free(ps.loop);
}

Test(loop, posts_not_yet_run_are_dropped_by_free)
{
    struct loop *loop = loop_new(STACK);
    struct post_state ps = {.loop = loop, .loop_thread = pthread_self()};

    cr_assert_eq(loop_post(loop, post_cb, &ps), 0);
    loop_free(loop);
    assert_no_leaks();
    cr_assert_eq(ps.runs, 0);
}

/* ---- nested spawn and cancellation ---- */

struct nest {
    struct loop *loop;
    char trace[8];
    int n;
};

static void inner_body(struct coro *co, void *arg)
{
    struct nest *ns = arg;

    (void)co;
    ns->trace[ns->n++] = 'i';
    loop_wait(ns->loop, NULL, NULL, 0, loop_now(ns->loop) + 10);
    ns->trace[ns->n++] = 'j';
    loop_stop(ns->loop);
}

static void outer_body(struct coro *co, void *arg)
{
    struct nest *ns = arg;

    ns->trace[ns->n++] = 'o';
    loop_spawn(ns->loop, inner_body, ns);
    ns->trace[ns->n++] = loop_current(ns->loop) == co ? 'p' : '?';
}

Test(loop, a_coroutine_can_spawn_another)
{
    struct nest ns = {.loop = loop_new(STACK)};

    loop_spawn(ns.loop, outer_body, &ns);
    cr_assert_eq(loop_coroutines(ns.loop), 1);
    run(ns.loop);
    cr_assert_str_eq(ns.trace, "oipj");
    loop_free(ns.loop);
}

struct parked {
    struct loop *loop;
    struct loop_watch w;
    int *defers;
    char *buf;
};

static void parked_defer(void *arg)
{
    struct parked *p = arg;

    (*p->defers)++;
    free(p->buf);
    loop_watch_del(&p->w);
    close(p->w.fd);
}

static void parked_body(struct coro *co, void *arg)
{
    struct parked *p = arg;
    struct loop_watch *ws[1] = {&p->w};
    uint32_t mask[1] = {LOOP_READ};

    p->buf = malloc(4096);
    coro_defer(co, parked_defer, p);
    loop_wait(p->loop, ws, mask, 1, loop_now(p->loop) + 60000);
    (*p->defers) += 100; /* never reached: cancelled */
}

Test(loop, free_cancels_parked_coroutines_and_runs_their_defers)
{
    struct loop *loop = loop_new(STACK);
    struct parked ps[3];
    int defers = 0, peers[3];

    for (int i = 0; i < 3; i++) {
        int sv[2];

        make_pair(sv);
        peers[i] = sv[1];
        ps[i] = (struct parked){.loop = loop, .w.fd = sv[0], .defers = &defers};
        cr_assert_eq(loop_watch_add(loop, &ps[i].w), 0);
        loop_spawn(loop, parked_body, &ps[i]);
    }
    run_briefly(loop);
    cr_assert_eq(loop_coroutines(loop), 3);
    loop_free(loop);
    assert_no_leaks();
    cr_assert_eq(defers, 3, "every parked coroutine's defer ran once");
    for (int i = 0; i < 3; i++) {
        char c;

        cr_assert_eq(read(peers[i], &c, 1), 0, "the defer closed the other end");
        close(peers[i]);
    }
}
