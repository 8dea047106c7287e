/* loop.h - the per-worker event loop: epoll, timers, coroutines, cross-thread posts. */
#ifndef COHTTPD_CORE_LOOP_H
#define COHTTPD_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/coro.h"
#include "core/timer.h"

struct loop;
struct io_rates;

/* Readiness bits of a watch (epoll's, folded). */
enum {
    LOOP_READ = 1u << 0,  /* readable, or peer closed its write side */
    LOOP_WRITE = 1u << 1, /* writable */
    LOOP_HUP = 1u << 2,   /* hang-up or error: every wait on the fd ends */
    LOOP_EOF = 1u << 3,   /* the peer closed its write side (reads will end) */
};

/* Bits of loop_watch.ready above these are private to io.c. */
#define LOOP_READY_PUBLIC 0xffu

/* Why a coroutine blocked in the loop was resumed (what loop_wait returns). */
enum {
    LOOP_WAKE_IO = 1,      /* a watched fd became ready */
    LOOP_WAKE_TIMEOUT = 2, /* the deadline passed */
    LOOP_WAKE_WAKEUP = 3,  /* loop_wakeup() */
    LOOP_WAKE_ERROR = 4,   /* a watch could not be registered with epoll */
    LOOP_WAKE_BUSY = 5,    /* another coroutine already waits on a watch for that direction */
};

/* A file descriptor known to the loop, embedded in its owner. It is
 * registered once (edge-triggered, in and out) and stays registered until
 * loop_watch_del(); ready caches the edges seen since the owner last
 * consumed them, so the owner tries the syscall first and waits only after
 * EAGAIN (or a short read).
 *
 * Waiters: a watch serves a reader and a writer at once. It has two slots;
 * a coroutine that waits on it takes one (waiter/wait, else waiter2/wait2)
 * with the directions it waits for. Two coroutines may wait on one watch
 * when their directions differ (A in co_read while B is in co_write on the
 * same socket, as a relay does); each is resumed by the edges of its own
 * direction, and both by a hang-up. A second waiter for a direction that
 * is already waited for is a bug: builds with assertions (no NDEBUG, or
 * AddressSanitizer) abort with a message; others refuse the wait
 * (LOOP_WAKE_BUSY, -EBUSY from io.h) and the first waiter keeps its place. */
struct loop_watch {
    int fd;
    uint32_t ready;       /* LOOP_* edges not yet consumed */
    uint32_t wait;        /* what waiter waits for; 0 when none */
    uint32_t wait2;       /* what waiter2 waits for; 0 when none */
    bool deferred;        /* added lazily and not yet registered with epoll */
    struct coro *waiter;  /* a coroutine blocked on this fd, or NULL */
    struct coro *waiter2; /* another one, waiting for the other direction, or NULL */
    struct loop *loop;    /* set by loop_watch_add */
    /* Minimum data rates that io.h's waits on this fd enforce, or NULL:
     * set and owned by the watch's owner (see struct io_rates). */
    struct io_rates *rates;
    /* Called from the loop when an event arrives and no coroutine waits on
     * the fd (a listener, an idle keep-alive connection). May be NULL. */
    void (*on_event)(struct loop_watch *w, uint32_t events);
};

/* Creates a loop for the calling thread with a coroutine stack pool of
 * stack_size bytes per coroutine. Returns NULL with errno set. */
struct loop *loop_new(size_t stack_size);

/* Frees the loop. Live coroutines are cancelled (their defers run) first. */
void loop_free(struct loop *loop);

/* Runs until loop_stop(): waits for events and due timers, refreshing the
 * clock once per iteration, resumes waiting coroutines and runs callbacks.
 * Returns 0, or -errno if epoll fails. */
int loop_run(struct loop *loop);

/* Makes loop_run() return after the current iteration. Loop thread only;
 * from another thread use loop_post(loop, ...) with a callback calling it. */
void loop_stop(struct loop *loop);

/* The loop's cached clock: CLOCK_MONOTONIC in ms (and ns) as of the start of
 * this iteration. loop_clock_update() refreshes it now. */
uint64_t loop_now(const struct loop *loop);
uint64_t loop_now_ns(const struct loop *loop);
void loop_clock_update(struct loop *loop);

/* Wall-clock seconds (CLOCK_REALTIME) as of the start of this iteration. */
int64_t loop_wall(const struct loop *loop);

/* The loop's timer wheel, for owners that arm their own timers. */
struct timer_wheel *loop_timers(struct loop *loop);

/* Registers w->fd (edge-triggered, EPOLLIN|EPOLLOUT|EPOLLRDHUP) and assumes
 * it ready for both directions until a syscall says EAGAIN. Returns 0 or
 * -errno. */
int loop_watch_add(struct loop *loop, struct loop_watch *w);

/* Like loop_watch_add, but the epoll_ctl is put off until something has
 * to wait for the fd (loop_wait(), loop_watch_arm()): a connection served
 * and closed without ever blocking costs no epoll_ctl at all. Edge-triggered
 * registration reports readiness that arose before it, so no edge is lost. */
void loop_watch_add_lazy(struct loop *loop, struct loop_watch *w);

/* Registers a watch added with loop_watch_add_lazy() now, if it is not yet:
 * before relying on w->on_event. Returns 0 or -errno. */
int loop_watch_arm(struct loop_watch *w);

/* Like loop_watch_add, for a listening socket that the loops of several
 * workers share: registered edge-triggered for input with EPOLLEXCLUSIVE, so
 * a new connection wakes one waiting loop instead of all of them. Returns 0
 * or -errno. */
int loop_watch_add_exclusive(struct loop *loop, struct loop_watch *w);

/* Unregisters w (call before closing w->fd). A waiting coroutine is woken
 * with LOOP_WAKE_IO and will find the fd gone. Returns 0 or -errno. */
int loop_watch_del(struct loop_watch *w);

/* Unregisters w and closes w->fd, without the EPOLL_CTL_DEL syscall: for
 * an fd that has no duplicate (an accepted socket), closing it removes it
 * from epoll. While a child process is being made (loop_child_begin) it
 * may hold a duplicate: then the syscall is made. Returns 0 or -errno. */
int loop_watch_close(struct loop_watch *w);

/* Around the making of a child process (fork, posix_spawn), in any
 * thread: until it execs, the child holds a copy of every descriptor of
 * the process, so loop_watch_close cannot count on a close to take a
 * socket out of epoll. Never yields; the pair must not nest. */
void loop_child_begin(void);
void loop_child_end(void);

/* Starts a coroutine running fn(co, arg) at once; it runs until it first
 * blocks. When it finishes the loop frees it. Returns it (it may already be
 * finished and freed when this returns: use the pointer only to compare) or
 * NULL with errno = ENOMEM. */
struct coro *loop_spawn(struct loop *loop, coro_fn fn, void *arg);

/* The coroutine the loop is running now, NULL outside of any. */
struct coro *loop_current(const struct loop *loop);

/* Blocks the running coroutine until one of n watches shows an event in
 * the mask wait[i] (LOOP_READ and/or LOOP_WRITE, not 0; a LOOP_HUP always
 * ends the wait), until deadline (an absolute loop_now() time; 0: none), or
 * until loop_wakeup(). Returns a LOOP_WAKE_* reason (LOOP_WAKE_ERROR at
 * once when a lazily added watch cannot be registered, LOOP_WAKE_BUSY at
 * once when another coroutine waits on one of the watches for one of the
 * same directions: see struct loop_watch). Must run inside a coroutine of
 * this loop. */
int loop_wait(struct loop *loop, struct loop_watch *const *watches, const uint32_t *wait, size_t n,
              uint64_t deadline);

/* Makes the coroutine co, blocked in loop_wait(), return LOOP_WAKE_WAKEUP at
 * the next iteration. Loop thread only. */
void loop_wakeup(struct loop *loop, struct coro *co);

/* Runs fn(arg) on the loop's thread at its next iteration. Thread-safe;
 * returns 0 or -ENOMEM. */
int loop_post(struct loop *loop, void (*fn)(void *arg), void *arg);

/* Heartbeat: loop_now() at the start of the last iteration, readable from any
 * thread (the watchdog checks it). */
uint64_t loop_heartbeat(const struct loop *loop);

/* The loop's load since it was made, readable from any thread: iterations
 * run, and the time spent working (busy) and waiting in epoll (idle). A
 * loop that is not running counts as busy. */
void loop_load(const struct loop *loop, uint64_t *iterations, uint64_t *busy_ns, uint64_t *idle_ns);

/* Registered counts for statistics: live coroutines and watched fds. */
size_t loop_coroutines(const struct loop *loop);

/* Unmaps the coroutine stacks kept beyond the pool's few hot ones (see
 * coro_pool_shrink), for a worker that has gone quiet after a burst.
 * Returns how many it unmapped. Loop thread only; never yields. */
size_t loop_release_stacks(struct loop *loop);

#endif
