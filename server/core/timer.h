/* timer.h - a hierarchical timer wheel with millisecond ticks, one per worker. */
#ifndef COHTTPD_CORE_TIMER_H
#define COHTTPD_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct timer;
typedef void (*timer_cb)(struct timer *t);

/* Embedded in its owner; zero-initialise (or timer_init) before first use.
 * The fields are the wheel's: read none of them but through the functions. */
struct timer {
    struct timer *next, **pprev; /* slot list; pprev == NULL when not armed */
    uint64_t expires;            /* absolute, in the wheel's milliseconds */
    timer_cb cb;
};

#define TIMER_LEVELS    4
#define TIMER_SLOT_BITS 8
#define TIMER_SLOTS     (1u << TIMER_SLOT_BITS)

/* Four levels of 256 slots: 1 ms, 256 ms, ~65 s and ~4.6 h per slot, so any
 * deadline up to ~49 days is placed in O(1); later ones wait at the top level
 * and are re-placed as time goes by. */
struct timer_wheel {
    uint64_t now;   /* last time passed to timer_wheel_advance */
    uint64_t count; /* armed timers */
    /* A bit per slot, set while the slot holds a timer: the search for the
     * next one reads words of 64 slots, not every slot. */
    uint64_t used[TIMER_LEVELS][TIMER_SLOTS / 64];
    /* timer_wheel_next's last answer as an absolute time (-1: none), good
     * while next_known: no slot filled or emptied since, and now is before
     * it (the answer depends on nothing else). */
    int64_t next_at;
    bool next_known;
    struct timer *slots[TIMER_LEVELS][TIMER_SLOTS];
};

/* Starts the wheel's clock at now (ms, any monotonic origin). */
void timer_wheel_init(struct timer_wheel *w, uint64_t now);

void timer_init(struct timer *t, timer_cb cb);

/* Arms (or re-arms) t to fire at absolute time expires; a time already past
 * fires at the next timer_wheel_advance(). O(1). */
void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t expires);

/* Disarms t if armed; safe to call on a disarmed timer. O(1). */
void timer_cancel(struct timer_wheel *w, struct timer *t);

bool timer_armed(const struct timer *t);

/* Moves the clock to now and runs the callbacks of every timer whose time has
 * come, in order of expiry (ties in arming order). A callback may arm or
 * cancel any timer, itself included. Returns the number fired. */
unsigned timer_wheel_advance(struct timer_wheel *w, uint64_t now);

/* Milliseconds from the wheel's now until the earliest armed timer is due,
 * 0 if one is already due, -1 if none is armed (the epoll_wait timeout). It
 * may answer earlier than the true expiry (a cascade point), never later.
 * The answer is kept until a slot fills or empties, so that a loop
 * iteration that armed and fired nothing does not search again. */
int64_t timer_wheel_next(struct timer_wheel *w);

/* timer_wheel_next's answer searched afresh, without the kept one (what the
 * tests compare it with). */
int64_t timer_wheel_next_full(const struct timer_wheel *w);

#endif
