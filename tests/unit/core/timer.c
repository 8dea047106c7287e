/* Tests of server/core/timer.c: order, ties, cancel, re-arm, every level, next, a model check. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

#define MAX_LOG 64

/* A timer that records its firing into a shared log. */
struct ttimer {
    struct timer t;
    int id;
    uint64_t fired_at;
};

static int fire_log[MAX_LOG];
static size_t nfired;
static struct timer_wheel *cur_wheel;

static void log_cb(struct timer *t)
{
    struct ttimer *tt = (struct ttimer *)t;

    tt->fired_at = cur_wheel->now;
    if (nfired < MAX_LOG)
        fire_log[nfired++] = tt->id;
}

static void setup_timers(struct ttimer *ts, size_t n, timer_cb cb)
{
    for (size_t i = 0; i < n; i++) {
        timer_init(&ts[i].t, cb);
        ts[i].id = (int)i;
        ts[i].fired_at = 0;
    }
    nfired = 0;
}

Test(timer, fires_in_expiry_order_at_the_right_time)
{
    struct timer_wheel w;
    struct ttimer ts[5];
    const uint64_t at[5] = {1030, 1005, 1300, 1001, 1200};

    timer_wheel_init(&w, 1000);
    cur_wheel = &w;
    setup_timers(ts, 5, log_cb);
    for (int i = 0; i < 5; i++)
        timer_arm(&w, &ts[i].t, at[i]);
    cr_assert_eq(w.count, 5);
    cr_assert_eq(timer_wheel_advance(&w, 1000), 0, "nothing is due yet");
    cr_assert_eq(timer_wheel_advance(&w, 1029), 2);
    cr_assert_eq(timer_wheel_advance(&w, 5000), 3);
    const int want[5] = {3, 1, 0, 4, 2};
    cr_assert_eq(nfired, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(fire_log[i], want[i], "position %d", i);
        cr_assert_eq(ts[want[i]].fired_at, at[want[i]], "timer %d fires at its own ms", want[i]);
        cr_assert_not(timer_armed(&ts[i].t));
    }
    cr_assert_eq(w.count, 0);
    cr_assert_eq(timer_wheel_next(&w), -1);
}

Test(timer, ties_fire_in_arming_order_across_levels)
{
    struct timer_wheel w;
    struct ttimer ts[6];
    const uint64_t due = 70000; /* beyond level 0 and level 1 of time 10 */

    timer_wheel_init(&w, 10);
    cur_wheel = &w;
    setup_timers(ts, 6, log_cb);
    /* Armed at different times, so they start at different levels. */
    timer_arm(&w, &ts[0].t, due);
    timer_wheel_advance(&w, 65600);
    timer_arm(&w, &ts[1].t, due);
    timer_arm(&w, &ts[2].t, due);
    timer_wheel_advance(&w, 69900);
    timer_arm(&w, &ts[3].t, due);
    timer_wheel_advance(&w, 69999);
    timer_arm(&w, &ts[4].t, due);
    timer_arm(&w, &ts[5].t, due - 5000); /* already past: due now */
    cr_assert_eq(timer_wheel_advance(&w, 69999), 1, "a past time fires at the next advance");
    cr_assert_eq(fire_log[0], 5);
    cr_assert_eq(timer_wheel_advance(&w, due), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(fire_log[1 + i], i, "position %d", i);
}

Test(timer, ties_beyond_the_top_ring_keep_arming_order)
{
    struct timer_wheel w;
    struct ttimer ts[3];
    const uint64_t block = UINT64_C(1) << 24;
    const uint64_t due = 300 * block + 5; /* 300 top-level blocks ahead: beyond the ring */

    timer_wheel_init(&w, 0);
    cur_wheel = &w;
    setup_timers(ts, 3, log_cb);
    timer_arm(&w, &ts[0].t, due);
    timer_wheel_advance(&w, 100 * block + 1); /* now due is inside the ring */
    timer_arm(&w, &ts[1].t, due);
    timer_wheel_advance(&w, 299 * block);
    timer_arm(&w, &ts[2].t, due);
    cr_assert_eq(timer_wheel_advance(&w, due - 1), 0);
    cr_assert_eq(timer_wheel_advance(&w, due), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fire_log[i], i, "position %d", i);
        cr_assert_eq(ts[i].fired_at, due);
    }
}

Test(timer, same_ms_ties_keep_arming_order)
{
    struct timer_wheel w;
    struct ttimer ts[40];

    timer_wheel_init(&w, 0);
    cur_wheel = &w;
    setup_timers(ts, 40, log_cb);
    for (int i = 0; i < 40; i++)
        timer_arm(&w, &ts[i].t, 500);
    /* Re-arming moves a timer to the back of its tie group. */
    timer_arm(&w, &ts[3].t, 500);
    cr_assert_eq(timer_wheel_advance(&w, 1000), 40);
    cr_assert_eq(nfired, 40);
    int k = 0;
    for (int i = 0; i < 40; i++) {
        if (i != 3)
            cr_assert_eq(fire_log[k++], i);
    }
    cr_assert_eq(fire_log[39], 3);
}

Test(timer, cancel_and_rearm)
{
    struct timer_wheel w;
    struct ttimer ts[3];

    timer_wheel_init(&w, 0);
    cur_wheel = &w;
    setup_timers(ts, 3, log_cb);
    timer_arm(&w, &ts[0].t, 10);
    timer_arm(&w, &ts[1].t, 20);
    timer_arm(&w, &ts[2].t, 30);
    timer_cancel(&w, &ts[1].t);
    timer_cancel(&w, &ts[1].t); /* harmless twice */
    cr_assert_not(timer_armed(&ts[1].t));
    cr_assert_eq(w.count, 2);
    timer_arm(&w, &ts[0].t, 100000); /* re-arm far away */
    timer_arm(&w, &ts[2].t, 5);      /* re-arm earlier */
    cr_assert_eq(w.count, 2);
    cr_assert_eq(timer_wheel_advance(&w, 99999), 1);
    cr_assert_eq(fire_log[0], 2);
    cr_assert_eq(ts[2].fired_at, 5);
    cr_assert_eq(timer_wheel_advance(&w, 100000), 1);
    cr_assert_eq(fire_log[1], 0);
    cr_assert_eq(ts[0].fired_at, 100000);
    cr_assert_eq(nfired, 2);
}

/* Callbacks that act on other timers. */
static struct ttimer *victims;

static void cancel_next_cb(struct timer *t)
{
    struct ttimer *tt = (struct ttimer *)t;

    log_cb(t);
    timer_cancel(cur_wheel, &victims[tt->id + 1].t);
}

Test(timer, callback_cancels_a_timer_due_at_the_same_ms)
{
    struct timer_wheel w;
    struct ttimer ts[4];

    timer_wheel_init(&w, 0);
    cur_wheel = &w;
    victims = ts;
    setup_timers(ts, 4, log_cb);
    ts[0].t.cb = cancel_next_cb; /* cancels ts[1], due at the same ms */
    ts[2].t.cb = cancel_next_cb; /* cancels ts[3], due later */
    timer_arm(&w, &ts[0].t, 50);
    timer_arm(&w, &ts[1].t, 50);
    timer_arm(&w, &ts[2].t, 50);
    timer_arm(&w, &ts[3].t, 90000);
    cr_assert_eq(timer_wheel_advance(&w, 200000), 2);
    cr_assert_eq(nfired, 2);
    cr_assert_eq(fire_log[0], 0);
    cr_assert_eq(fire_log[1], 2);
    cr_assert_eq(w.count, 0);
}

static int periodic_left;

static void periodic_cb(struct timer *t)
{
    log_cb(t);
    if (--periodic_left > 0)
        timer_arm(cur_wheel, t, cur_wheel->now + 100);
}

Test(timer, callback_rearms_itself)
{
    struct timer_wheel w;
    struct ttimer ts[1];

    timer_wheel_init(&w, 0);
    cur_wheel = &w;
    setup_timers(ts, 1, periodic_cb);
    periodic_left = 10;
    timer_arm(&w, &ts[0].t, 100);
    cr_assert_eq(timer_wheel_advance(&w, 550), 5, "fires at 100..500 in one advance");
    cr_assert_eq(ts[0].fired_at, 500);
    cr_assert_eq(timer_wheel_advance(&w, 5000), 5);
    cr_assert_eq(ts[0].fired_at, 1000);
    cr_assert_not(timer_armed(&ts[0].t));
}

static void arm_now_cb(struct timer *t)
{
    struct ttimer *tt = (struct ttimer *)t;

    log_cb(t);
    if (tt->id == 0)
        timer_arm(cur_wheel, &victims[1].t, cur_wheel->now);
}

Test(timer, timer_armed_for_now_inside_a_callback_fires_once_and_stays_bounded)
{
    struct timer_wheel w;
    struct ttimer ts[3];

    timer_wheel_init(&w, 0);
    cur_wheel = &w;
    victims = ts;
    setup_timers(ts, 3, arm_now_cb);
    timer_arm(&w, &ts[0].t, 10);
    timer_arm(&w, &ts[2].t, 11);
    /* Mid-advance: ts[1] fires before ts[2] (due earlier). */
    cr_assert_eq(timer_wheel_advance(&w, 20), 3);
    cr_assert_eq(fire_log[0], 0);
    cr_assert_eq(fire_log[1], 1);
    cr_assert_eq(fire_log[2], 2);
    /* At the end of an advance: due now, fired by the next advance. */
    nfired = 0;
    timer_arm(&w, &ts[0].t, 30);
    cr_assert_eq(timer_wheel_advance(&w, 30), 1);
    cr_assert(timer_armed(&ts[1].t));
    cr_assert_eq(timer_wheel_next(&w), 0);
    cr_assert_eq(timer_wheel_advance(&w, 30), 1);
    cr_assert_eq(fire_log[1], 1);
    cr_assert_eq(timer_wheel_next(&w), -1);
}

Test(timer, far_timers_on_every_level)
{
    struct timer_wheel w;
    struct ttimer ts[7];
    const uint64_t start = (UINT64_C(3) << 24) + 12345;
    /* level 0, level 1, level 2, level 3 ring, beyond the ring, far beyond */
    const uint64_t at[7] = {start + 7,
                            start + 300,
                            start + 70000,
                            start + (UINT64_C(1) << 25),
                            start + (UINT64_C(300) << 24),
                            start + (UINT64_C(1) << 33),
                            start + (UINT64_C(1) << 40)};

    timer_wheel_init(&w, start);
    cur_wheel = &w;
    setup_timers(ts, 7, log_cb);
    for (int i = 6; i >= 0; i--)
        timer_arm(&w, &ts[i].t, at[i]);
    for (int i = 0; i < 7; i++) {
        int64_t next = timer_wheel_next(&w);

        cr_assert_gt(next, 0);
        cr_assert_leq((uint64_t)next, at[i] - w.now, "next never later than the truth");
        cr_assert_eq(timer_wheel_advance(&w, at[i] - 1), 0, "timer %d not early", i);
        cr_assert_eq(timer_wheel_advance(&w, at[i]), 1, "timer %d on time", i);
        cr_assert_eq(fire_log[i], i);
        cr_assert_eq(ts[i].fired_at, at[i]);
    }
    cr_assert_eq(timer_wheel_next(&w), -1);
}

Test(timer, long_idle_advance_is_cheap)
{
    struct timer_wheel w;
    struct ttimer ts[2];

    /* Stepping this gap one millisecond at a time would take hours. */
    timer_wheel_init(&w, 1);
    cur_wheel = &w;
    setup_timers(ts, 2, log_cb);
    cr_assert_eq(timer_wheel_advance(&w, UINT64_C(1) << 44), 0);
    cr_assert_eq(w.now, UINT64_C(1) << 44);
    timer_arm(&w, &ts[0].t, w.now + (UINT64_C(1) << 42) + 17);
    timer_arm(&w, &ts[1].t, w.now + 3);
    cr_assert_eq(timer_wheel_advance(&w, UINT64_C(1) << 46), 2);
    cr_assert_eq(fire_log[0], 1);
    cr_assert_eq(ts[0].fired_at, (UINT64_C(1) << 44) + (UINT64_C(1) << 42) + 17);
}

Test(timer, next_reports_zero_minus_one_and_exact_level0)
{
    struct timer_wheel w;
    struct ttimer ts[2];

    timer_wheel_init(&w, 100);
    cur_wheel = &w;
    setup_timers(ts, 2, log_cb);
    cr_assert_eq(timer_wheel_next(&w), -1);
    timer_arm(&w, &ts[0].t, 140);
    cr_assert_eq(timer_wheel_next(&w), 40);
    timer_arm(&w, &ts[1].t, 90);
    cr_assert_eq(timer_wheel_next(&w), 0, "a past timer is due now");
    timer_cancel(&w, &ts[1].t);
    timer_cancel(&w, &ts[0].t);
    cr_assert_eq(timer_wheel_next(&w), -1);
}

/*
 * Randomised check against a reference model: thousands of timers armed at
 * every distance, cancelled and re-armed from outside and from callbacks;
 * after every advance the firing order must be exactly (expiry, arming order).
 */
#define RN   3000
#define RLOG 200000

struct model {
    bool armed[RN];
    uint64_t eff[RN];
    uint64_t seq[RN];
    uint64_t next_seq;
};

static struct ttimer rts[RN];
static struct model rm;
static uint64_t cb_rng;
static int *wheel_log, *model_log;
static size_t wheel_n, model_n;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t rnd_delay(uint64_t *s)
{
    switch (rnd(s) % 6) {
    case 0: return rnd(s) % 4;
    case 1: return rnd(s) % 300;
    case 2: return rnd(s) % 70000;
    case 3: return rnd(s) % (UINT64_C(1) << 25);
    case 4: return rnd(s) % (UINT64_C(1) << 34);
    default: return rnd(s) % 1000;
    }
}

/* What a callback does, drawn from cb_rng: 0 nothing, 1 cancel, 2 arm. */
static int cb_decide(int *target, uint64_t *delay)
{
    uint64_t r = rnd(&cb_rng) % 8;

    *target = (int)(rnd(&cb_rng) % RN);
    *delay = 1 + rnd_delay(&cb_rng);
    return r < 2 ? 1 : r < 4 ? 2 : 0;
}

static void model_arm(int id, uint64_t at, uint64_t now)
{
    rm.armed[id] = true;
    rm.eff[id] = at < now ? now : at;
    rm.seq[id] = rm.next_seq++;
}

static void random_cb(struct timer *t)
{
    struct ttimer *tt = (struct ttimer *)t;
    int target;
    uint64_t delay;

    if (wheel_n < RLOG)
        wheel_log[wheel_n++] = tt->id;
    switch (cb_decide(&target, &delay)) {
    case 1: timer_cancel(cur_wheel, &rts[target].t); break;
    case 2: timer_arm(cur_wheel, &rts[target].t, cur_wheel->now + delay); break;
    default: break;
    }
}

/* The earliest armed timer of the model due by now, or -1. */
static int model_first(uint64_t now)
{
    int best = -1;

    for (int i = 0; i < RN; i++) {
        if (!rm.armed[i] || rm.eff[i] > now)
            continue;
        if (best < 0 || rm.eff[i] < rm.eff[best] ||
            (rm.eff[i] == rm.eff[best] && rm.seq[i] < rm.seq[best]))
            best = i;
    }
    return best;
}

static void model_advance(uint64_t now)
{
    int id, target;
    uint64_t delay;

    for (size_t guard = 0; guard < RLOG && (id = model_first(now)) >= 0; guard++) {
        uint64_t tick = rm.eff[id];

        rm.armed[id] = false;
        if (model_n < RLOG)
            model_log[model_n++] = id;
        switch (cb_decide(&target, &delay)) {
        case 1: rm.armed[target] = false; break;
        case 2: model_arm(target, tick + delay, tick); break;
        default: break;
        }
    }
}

static void check_next(struct timer_wheel *w)
{
    uint64_t min = UINT64_MAX, count = 0;
    int64_t next = timer_wheel_next(w);

    /* The kept answer is the one a fresh search gives, asked again too. */
    cr_assert_eq(next, timer_wheel_next_full(w), "kept %lld, searched %lld", (long long)next,
                 (long long)timer_wheel_next_full(w));
    cr_assert_eq(timer_wheel_next(w), next);

    for (int i = 0; i < RN; i++) {
        cr_assert_eq(timer_armed(&rts[i].t), rm.armed[i], "armed state of %d", i);
        if (rm.armed[i]) {
            count++;
            if (rm.eff[i] < min)
                min = rm.eff[i];
        }
    }
    cr_assert_eq(w->count, count);
    /* The slot bitmap the search reads is exact: no timer missed, and no
     * empty slot that would wake the loop for nothing. */
    for (unsigned l = 0; l < TIMER_LEVELS; l++)
        for (unsigned i = 0; i < TIMER_SLOTS; i++)
            cr_assert_eq((w->used[l][i / 64] >> (i % 64)) & 1, w->slots[l][i] != NULL,
                         "level %u slot %u", l, i);
    if (count == 0) {
        cr_assert_eq(next, -1);
        return;
    }
    cr_assert_geq(next, 0);
    cr_assert_leq((uint64_t)next, min - w->now, "next %lld later than %llu", (long long)next,
                  (unsigned long long)(min - w->now));
    if (min > w->now)
        cr_assert_gt(next, 0, "nothing is due yet");
}

Test(timer, randomized_against_a_reference_model)
{
    static struct timer_wheel w;
    uint64_t s = 0x9e3779b97f4a7c15u, now = (UINT64_C(5) << 24) - 1000;
    size_t total = 0;

    wheel_log = malloc(RLOG * sizeof *wheel_log);
    model_log = malloc(RLOG * sizeof *model_log);
    cr_assert(wheel_log && model_log);
    memset(&rm, 0, sizeof rm);
    timer_wheel_init(&w, now);
    cur_wheel = &w;
    cb_rng = 0x2545f4914f6cdd1du;
    for (int i = 0; i < RN; i++) {
        timer_init(&rts[i].t, random_cb);
        rts[i].id = i;
    }
    for (int round = 0; round < 1500; round++) {
        for (int k = 0; k < 8; k++) {
            int id = (int)(rnd(&s) % RN);

            if (rnd(&s) % 5 == 0) {
                timer_cancel(&w, &rts[id].t);
                rm.armed[id] = false;
            } else {
                uint64_t at = now + rnd_delay(&s) - (rnd(&s) % 8 == 0 ? 2 : 0);

                timer_arm(&w, &rts[id].t, at);
                model_arm(id, at, now);
            }
        }
        check_next(&w);
        now += rnd(&s) % 16 == 0 ? rnd_delay(&s) : rnd(&s) % 500;
        uint64_t saved = cb_rng;
        wheel_n = model_n = 0;
        unsigned fired = timer_wheel_advance(&w, now);
        cb_rng = saved;
        model_advance(now);
        cr_assert_eq(wheel_n, model_n, "round %d: fired %zu, model %zu", round, wheel_n, model_n);
        cr_assert_eq(fired, wheel_n);
        for (size_t i = 0; i < wheel_n; i++)
            cr_assert_eq(wheel_log[i], model_log[i], "round %d, firing %zu", round, i);
        cr_assert_eq(w.now, now);
        check_next(&w);
        total += wheel_n;
    }
    cr_assert_gt(total, 5000, "the test exercised the wheel (%zu firings)", total);
    free(wheel_log);
    free(model_log);
}
