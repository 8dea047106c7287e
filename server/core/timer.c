/* timer.c - the hierarchical timer wheel: placement, cascading, firing. */
#include "core/timer.h"

#include <stddef.h>
#include <string.h>

/*
 * Placement. A timer due at e (e >= now) sits at the lowest level whose
 * current block also holds e: level 0 when e and now share the same 256 ms
 * block (slot e & 255, so a level-0 slot holds timers of one single
 * millisecond), level 1 when they share the same 65,536 ms block, level 2
 * when they share the same 2^24 ms block. Level 3 is a ring of 2^24 ms blocks
 * ahead of now. A timer moves down (cascades) at the very tick now enters
 * its block, before anything else can be armed for that block, so timers
 * due at the same millisecond reach level 0 in the order they were armed.
 *
 * Slot lists are pushed at the head (O(1) arm) and so hold the newest timer
 * first; cascading and firing reverse a detached list to walk it oldest
 * first. A timer armed for a time already past counts as due now.
 */

#define TIMER_MASK ((uint64_t)TIMER_SLOTS - 1)

static unsigned slot_bits(unsigned level) { return level * TIMER_SLOT_BITS; }

static size_t slot_index(uint64_t t, unsigned level)
{
    return (size_t)((t >> slot_bits(level)) & TIMER_MASK);
}

/* The slot list t belongs in, given the wheel's now (t->expires >= now). */
static struct timer **timer_slot(struct timer_wheel *w, const struct timer *t)
{
    uint64_t e = t->expires, now = w->now, ahead;
    unsigned level;

    for (level = 0; level < TIMER_LEVELS - 1; level++) {
        if ((e >> slot_bits(level + 1)) == (now >> slot_bits(level + 1)))
            return &w->slots[level][slot_index(e, level)];
    }
    /* Top level: a ring of 255 blocks ahead. A later timer waits in the slot
     * that comes round exactly when it is 255 blocks away, then moves into
     * its own slot (keeping ties in arming order even that far out). */
    ahead = (e >> slot_bits(level)) - (now >> slot_bits(level));
    if (ahead < TIMER_SLOTS)
        return &w->slots[level][slot_index(e, level)];
    return &w->slots[level][((e >> slot_bits(level)) - (TIMER_SLOTS - 1)) & TIMER_MASK];
}

/* The number of the slot whose list head p is (level * TIMER_SLOTS +
 * index), or -1 when p is another timer's next or a list outside the
 * wheel. */
static long slot_number(const struct timer_wheel *w, struct timer *const *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)&w->slots[0][0];

    if (a < base || a >= base + sizeof w->slots)
        return -1;
    return (long)((a - base) / sizeof *p);
}

static void used_mark(struct timer_wheel *w, long n, bool used)
{
    uint64_t *word = &w->used[n / TIMER_SLOTS][(n % TIMER_SLOTS) / 64];
    uint64_t bit = UINT64_C(1) << (n % 64);

    *word = used ? *word | bit : *word & ~bit;
    w->next_known = false;
}

static void timer_push(struct timer_wheel *w, struct timer **slot, struct timer *t)
{
    if (!*slot)
        used_mark(w, slot_number(w, slot), true);
    t->next = *slot;
    if (t->next)
        t->next->pprev = &t->next;
    t->pprev = slot;
    *slot = t;
}

static void timer_unlink(struct timer *t)
{
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

/* Empties *slot (newest first) onto the end of *list, oldest first. */
static void timer_take(struct timer_wheel *w, struct timer **slot, struct timer **list)
{
    struct timer *rev = NULL, *t, *next;
    struct timer **tail = list;

    if (*slot)
        used_mark(w, slot_number(w, slot), false);
    while (*tail)
        tail = &(*tail)->next;
    for (t = *slot; t; t = next) {
        next = t->next;
        t->next = rev;
        rev = t;
    }
    *slot = NULL;
    for (t = rev; t; t = t->next) {
        *tail = t;
        t->pprev = tail;
        tail = &t->next;
    }
}

void timer_wheel_init(struct timer_wheel *w, uint64_t now)
{
    memset(w, 0, sizeof *w);
    w->now = now;
}

void timer_init(struct timer *t, timer_cb cb)
{
    *t = (struct timer){.next = NULL, .pprev = NULL, .expires = 0, .cb = cb};
}

bool timer_armed(const struct timer *t) { return t->pprev != NULL; }

void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t expires)
{
    timer_cancel(w, t);
    t->expires = expires < w->now ? w->now : expires;
    timer_push(w, timer_slot(w, t), t);
    w->count++;
}

void timer_cancel(struct timer_wheel *w, struct timer *t)
{
    struct timer **pprev = t->pprev;
    long n;

    if (!pprev)
        return;
    timer_unlink(t);
    w->count--;
    if (!*pprev && (n = slot_number(w, pprev)) >= 0)
        used_mark(w, n, false);
}

/* Re-places every timer of one slot, oldest first, relative to w->now. */
static void timer_cascade(struct timer_wheel *w, unsigned level, size_t index)
{
    struct timer *list = NULL, *t;

    if (!w->slots[level][index])
        return;
    timer_take(w, &w->slots[level][index], &list);
    while ((t = list) != NULL) {
        timer_unlink(t);
        timer_push(w, timer_slot(w, t), t);
    }
}

/* Sets the clock to now and cascades every level whose block starts there,
 * highest first. */
static void timer_move_to(struct timer_wheel *w, uint64_t now)
{
    unsigned level;

    w->now = now;
    for (level = TIMER_LEVELS - 1; level > 0; level--) {
        if ((now & ((UINT64_C(1) << slot_bits(level)) - 1)) == 0)
            timer_cascade(w, level, slot_index(now, level));
    }
}

/* Fires every timer of *list in order; callbacks may change the list. */
static unsigned timer_fire(struct timer_wheel *w, struct timer **list)
{
    unsigned fired = 0;
    struct timer *t;

    while ((t = *list) != NULL) {
        timer_unlink(t);
        w->count--;
        fired++;
        if (t->cb)
            t->cb(t);
    }
    return fired;
}

/* Start of the block of this level numbered block (in units of the level). */
static int64_t timer_until(const struct timer_wheel *w, uint64_t block, unsigned level)
{
    return (int64_t)((block << slot_bits(level)) - w->now);
}

/* The first slot of a level in [from, TIMER_SLOTS) that holds a timer, or
 * TIMER_SLOTS. */
static size_t first_used(const struct timer_wheel *w, unsigned level, size_t from)
{
    size_t i = from;

    while (i < TIMER_SLOTS) {
        uint64_t bits = w->used[level][i / 64] >> (i % 64);

        if (bits)
            return i + (size_t)__builtin_ctzll(bits);
        i = (i / 64 + 1) * 64;
    }
    return TIMER_SLOTS;
}

int64_t timer_wheel_next_full(const struct timer_wheel *w)
{
    uint64_t now = w->now, block;
    size_t cur, i;
    unsigned level;

    if (w->count == 0)
        return -1;
    /* Level 0 holds the current block from now on: the first hit is exact. */
    if ((i = first_used(w, 0, slot_index(now, 0))) < TIMER_SLOTS)
        return (int64_t)(i - slot_index(now, 0));
    /* Levels 1 and 2: later slots of the current block; a hit is the time it
     * cascades, no later than any timer in it. */
    for (level = 1; level < TIMER_LEVELS - 1; level++) {
        cur = slot_index(now, level);
        block = (now >> slot_bits(level)) - cur;
        if ((i = first_used(w, level, cur + 1)) < TIMER_SLOTS)
            return timer_until(w, block + i, level);
    }
    /* The top level is a ring: the slots after the current one, then from
     * the first round to the current slot, which comes round last. */
    level = TIMER_LEVELS - 1;
    block = now >> slot_bits(level);
    cur = (size_t)(block & TIMER_MASK);
    if ((i = first_used(w, level, cur + 1)) < TIMER_SLOTS)
        return timer_until(w, block + (i - cur), level);
    if ((i = first_used(w, level, 0)) <= cur)
        return timer_until(w, block + (TIMER_SLOTS - cur) + i, level);
    return -1;
}

int64_t timer_wheel_next(struct timer_wheel *w)
{
    int64_t next;

    if (w->next_known && (w->next_at < 0 || (uint64_t)w->next_at > w->now))
        return w->next_at < 0 ? -1 : (int64_t)((uint64_t)w->next_at - w->now);
    next = timer_wheel_next_full(w);
    w->next_at = next < 0 ? -1 : (int64_t)w->now + next;
    w->next_known = true;
    return next;
}

/*
 * Each pass fires the current millisecond's slot, then jumps straight to the
 * next point where something can happen (a non-empty slot or a cascade of a
 * non-empty slot), never past now, so an idle hour costs a few passes. Timers
 * that callbacks arm for the current millisecond are carried to the next pass
 * (fired before that pass's own); after the last pass they stay due. Out of
 * line: timer_wheel_advance's usual path then saves no registers.
 */
__attribute__((noinline)) static unsigned timer_passes(struct timer_wheel *w, uint64_t now)
{
    struct timer *pending = NULL;
    unsigned fired = 0;
    int64_t next;
    uint64_t step;

    for (;;) {
        timer_take(w, &w->slots[0][slot_index(w->now, 0)], &pending);
        fired += timer_fire(w, &pending);
        if (w->now >= now)
            break;
        next = timer_wheel_next(w);
        step = next < 0 ? now - w->now : next == 0 ? 1 : (uint64_t)next;
        if (step > now - w->now)
            step = now - w->now;
        timer_take(w, &w->slots[0][slot_index(w->now, 0)], &pending);
        timer_move_to(w, w->now + step);
    }
    return fired;
}

unsigned timer_wheel_advance(struct timer_wheel *w, uint64_t now)
{
    int64_t next;

    if (now < w->now)
        now = w->now;
    /* The usual loop iteration: nothing in the current slot and nothing
     * due or to cascade up to now, so only the clock moves. */
    if (!w->slots[0][slot_index(w->now, 0)] &&
        ((next = timer_wheel_next(w)) < 0 || (uint64_t)next > now - w->now)) {
        w->now = now;
        return 0;
    }
    return timer_passes(w, now);
}
