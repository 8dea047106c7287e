/* loop_test.h - what the core loop and I/O tests share: a bounded loop run,
 * a leak check and socketpairs. */
#ifndef COHTTPD_TESTS_UNIT_CORE_LOOP_TEST_H
#define COHTTPD_TESTS_UNIT_CORE_LOOP_TEST_H

#include <criterion/criterion.h>
#include <sys/socket.h>

#include "core/loop.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* Under ASan, fails the test if anything allocated is no longer reachable. */
static inline void assert_no_leaks(void)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks");
#endif
}

#define STACK (64 * 1024)

static bool safety_fired __attribute__((unused));
static struct loop *safety_loop __attribute__((unused));

static inline void safety_cb(struct timer *t)
{
    (void)t;
    safety_fired = true;
    loop_stop(safety_loop);
}

/* Runs the loop until loop_stop(); a 10 s timer turns a hang into a failure. */
static inline void run(struct loop *loop)
{
    struct timer safety;

    timer_init(&safety, safety_cb);
    safety_fired = false;
    safety_loop = loop;
    timer_arm(loop_timers(loop), &safety, loop_now(loop) + 10000);
    cr_assert_eq(loop_run(loop), 0);
    timer_cancel(loop_timers(loop), &safety);
    cr_assert_not(safety_fired, "the loop was stopped by the safety timer");
}

static inline void make_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

#endif
