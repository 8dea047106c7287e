/* Tests of server/core/coro.c: switching, values, defers, the stack pool and its guard page. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/coro.h"

static char trace[64];
static size_t ntrace;

static void note(char c)
{
    if (ntrace < sizeof trace - 1)
        trace[ntrace++] = c;
    trace[ntrace] = '\0';
}

static void body_abc(struct coro *co, void *arg)
{
    (void)arg;
    note('a');
    coro_yield(co, 1);
    note('b');
    coro_yield(co, 2);
    note('c');
}

Test(coro, resume_and_yield_order)
{
    struct coro_pool *pool = coro_pool_new(16384, 4, 8);
    struct coro *co = coro_new(pool, body_abc, NULL);

    ntrace = 0;
    cr_assert_not_null(co);
    note('1');
    cr_assert_eq(coro_resume(co, 0), 1);
    note('2');
    cr_assert_eq(coro_resume(co, 0), 2);
    note('3');
    cr_assert_eq(coro_resume(co, 0), CORO_FINISHED);
    cr_assert(coro_finished(co));
    cr_assert_str_eq(trace, "1a2b3c");
    coro_free(co);
    cr_assert_eq(coro_pool_live(pool), 0);
    coro_pool_free(pool);
}

static void body_echo(struct coro *co, void *arg)
{
    int v = coro_yield(co, *(int *)arg);

    while (v >= 0)
        v = coro_yield(co, v * 2);
}

Test(coro, values_travel_both_ways)
{
    struct coro_pool *pool = coro_pool_new(16384, 4, 8);
    int first = 7;
    struct coro *co = coro_new(pool, body_echo, &first);

    cr_assert_eq(coro_resume(co, 0), 7);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(coro_resume(co, i), 2 * i);
    cr_assert_eq(coro_resume(co, -1), CORO_FINISHED);
    coro_free(co);
    coro_pool_free(pool);
}

static void push_char(void *data) { note((char)(uintptr_t)data); }

static void body_defers(struct coro *co, void *arg)
{
    int disarmed, fired;

    (void)arg;
    coro_defer(co, push_char, (void *)(uintptr_t)'x');
    disarmed = coro_defer(co, push_char, (void *)(uintptr_t)'!');
    coro_defer(co, push_char, (void *)(uintptr_t)'y');
    fired = coro_defer(co, push_char, (void *)(uintptr_t)'f');
    coro_defer_disarm(co, disarmed);
    coro_defer_fire(co, fired);
    note('.');
    coro_yield(co, 0);
    note('z');
}

Test(coro, defers_run_last_first_on_finish)
{
    struct coro_pool *pool = coro_pool_new(16384, 4, 8);
    struct coro *co = coro_new(pool, body_defers, NULL);

    ntrace = 0;
    coro_resume(co, 0);
    cr_assert_str_eq(trace, "f.");
    cr_assert_eq(coro_resume(co, 0), CORO_FINISHED);
    cr_assert_str_eq(trace, "f.zyx");
    coro_free(co);
    cr_assert_str_eq(trace, "f.zyx", "freeing a finished coroutine runs nothing again");
    coro_pool_free(pool);
}

Test(coro, defers_run_when_cancelled)
{
    struct coro_pool *pool = coro_pool_new(16384, 4, 8);
    struct coro *co = coro_new(pool, body_defers, NULL);

    ntrace = 0;
    coro_resume(co, 0);
    coro_free(co);
    cr_assert_str_eq(trace, "f.yx", "the rest of the body never runs, its defers do");
    cr_assert_eq(coro_pool_live(pool), 0);
    coro_pool_free(pool);
}

static void body_nop(struct coro *co, void *arg)
{
    (void)co;
    (void)arg;
}

Test(coro, defer_table_is_bounded)
{
    struct coro_pool *pool = coro_pool_new(16384, 4, 8);
    struct coro *co = coro_new(pool, body_nop, NULL);

    ntrace = 0;
    for (int i = 0; i < CORO_MAX_DEFER; i++)
        cr_assert_geq(coro_defer(co, push_char, (void *)(uintptr_t)'d'), 0);
    cr_assert_eq(coro_defer(co, push_char, (void *)(uintptr_t)'d'), -ENOMEM);
    coro_free(co);
    cr_assert_eq(ntrace, CORO_MAX_DEFER);
    coro_pool_free(pool);
}

static void body_counter(struct coro *co, void *arg)
{
    int *slot = arg;

    for (int i = 0; i < 3; i++) {
        (*slot)++;
        coro_yield(co, i);
    }
}

Test(coro, ten_thousand_alive_at_once)
{
    enum { N = 10000 };
    struct coro_pool *pool = coro_pool_new(16384, 64, 1024);
    static struct coro *cos[N];
    static int counts[N];

    for (int i = 0; i < N; i++) {
        counts[i] = 0;
        cos[i] = coro_new(pool, body_counter, &counts[i]);
        cr_assert_not_null(cos[i]);
    }
    cr_assert_eq(coro_pool_live(pool), N);
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < N; i++) {
            int r = coro_resume(cos[i], 0);

            cr_assert_eq(r, round < 3 ? round : CORO_FINISHED);
            cr_assert_eq(counts[i], round < 3 ? round + 1 : 3);
        }
    for (int i = 0; i < N; i++)
        coro_free(cos[i]);
    cr_assert_eq(coro_pool_live(pool), 0);
    coro_pool_free(pool);
}

static void body_deep(struct coro *co, void *arg)
{
    size_t n = *(size_t *)arg;
    volatile char big[1 << 16];

    (void)co;
    if (n > sizeof big)
        n = sizeof big;
    memset((char *)big, 0x5a, n);
    *(size_t *)arg = (size_t)big[n - 1];
}

Test(coro, stacks_are_reused_and_usable_to_their_size)
{
    struct coro_pool *pool = coro_pool_new(128 * 1024, 1, 2);
    struct coro *a, *b;
    size_t n = 60000;

    cr_assert_geq(coro_pool_stack_size(pool), 128 * 1024 - 4096);
    a = coro_new(pool, body_deep, &n);
    coro_resume(a, 0);
    cr_assert_eq(n, 0x5a);
    coro_free(a);
    /* The pool hands the same stack back, warm. */
    b = coro_new(pool, body_deep, &n);
    cr_assert_eq(a, b);
    n = 60000;
    coro_resume(b, 0);
    cr_assert_eq(n, 0x5a);
    coro_free(b);
    coro_pool_free(pool);
}

static void body_trimmed(struct coro *co, void *arg)
{
    volatile char buf[8192];

    (void)co;
    memset((char *)buf, 1, sizeof buf);
    *(int *)arg = buf[100] + buf[8000];
}

Test(coro, trimmed_and_unmapped_stacks_still_work)
{
    struct coro_pool *pool = coro_pool_new(32768, 1, 2);
    struct coro *cos[4];
    int out = 0;

    for (int i = 0; i < 4; i++)
        cos[i] = coro_new(pool, body_trimmed, &out);
    for (int i = 0; i < 4; i++)
        coro_free(cos[i]); /* two kept, two unmapped */
    cr_assert_eq(coro_pool_trim(pool), 1, "one kept warm, one trimmed");
    cr_assert_eq(coro_pool_trim(pool), 0);
    for (int i = 0; i < 4; i++) {
        cos[i] = coro_new(pool, body_trimmed, &out);
        out = 0;
        coro_resume(cos[i], 0);
        cr_assert_eq(out, 2);
    }
    for (int i = 0; i < 4; i++)
        coro_free(cos[i]);
    coro_pool_free(pool);
}

/* Is the page holding p mapped? (msync answers ENOMEM for an unmapped one.) */
static bool page_mapped(const void *p)
{
    uintptr_t page = (uintptr_t)p & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);

    return msync((void *)page, 1, MS_ASYNC) == 0;
}

Test(coro, shrink_unmaps_the_stacks_beyond_the_hot_ones)
{
    struct coro_pool *pool = coro_pool_new(32768, 2, 64);
    struct coro *cos[8], *again[2];
    int out = 0, mapped = 0;

    for (int i = 0; i < 8; i++) {
        cos[i] = coro_new(pool, body_trimmed, &out);
        coro_resume(cos[i], 0);
    }
    for (int i = 0; i < 8; i++)
        coro_free(cos[i]); /* all eight kept, cos[7] the most recent */
    cr_assert_eq(coro_pool_shrink(pool), 6, "two stay hot, six are unmapped");
    cr_assert_eq(coro_pool_shrink(pool), 0);
    for (int i = 0; i < 8; i++)
        mapped += page_mapped(cos[i]);
    cr_assert_eq(mapped, 2, "%d stacks still mapped", mapped);
    cr_assert(page_mapped(cos[7]) && page_mapped(cos[6]), "the most recently used stay");
    /* The hot stacks serve the next coroutines, and work. */
    for (int i = 0; i < 2; i++) {
        again[i] = coro_new(pool, body_trimmed, &out);
        cr_assert(again[i] == cos[7 - i], "coroutine %d reuses a hot stack", i);
        out = 0;
        coro_resume(again[i], 0);
        cr_assert_eq(out, 2);
    }
    for (int i = 0; i < 2; i++)
        coro_free(again[i]);
    coro_pool_free(pool);
}

/* Stack overflow: the guard page must stop it with SIGSEGV at an address just
 * below the coroutine's stack, in a child process. */
static volatile uintptr_t overflow_top;
static char altstack[65536];

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    uintptr_t addr = (uintptr_t)si->si_addr;

    (void)sig;
    (void)uc;
    /* 64 KiB stack: the fault must lie between 56 and 72 KiB below the top. */
    if (addr < overflow_top && overflow_top - addr > 56 * 1024 && overflow_top - addr < 72 * 1024)
        _exit(42);
    _exit(43);
}

/* Bounded only by the depth limit (far beyond the stack), so the compiler
 * sees a terminating recursion. */
static size_t recurse(size_t depth)
{
    volatile char pad[512];

    pad[0] = (char)depth;
    if (depth > 1000000)
        return 0;
    return recurse(depth + 1) + (size_t)pad[0];
}

static void body_overflow(struct coro *co, void *arg)
{
    volatile char here;

    (void)co;
    (void)arg;
    overflow_top = (uintptr_t)&here;
    recurse(0);
}

Test(coro, stack_overflow_hits_the_guard_page)
{
    pid_t pid = fork();
    int status;

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
        struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
        struct coro_pool *pool = coro_pool_new(65536, 1, 1);

        sigaltstack(&ss, NULL);
        sigaction(SIGSEGV, &sa, NULL);
        coro_resume(coro_new(pool, body_overflow, NULL), 0);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 42, "the fault was not at the guard page (exit %d)",
                 WEXITSTATUS(status));
}

static void body_nested_inner(struct coro *co, void *arg)
{
    (void)arg;
    note('i');
    coro_yield(co, 0);
    note('j');
}

static void body_nested_outer(struct coro *co, void *arg)
{
    struct coro *inner = coro_new(arg, body_nested_inner, NULL);

    note('o');
    coro_resume(inner, 0);
    coro_yield(co, 0);
    coro_resume(inner, 0);
    coro_free(inner);
    note('p');
}

Test(coro, a_coroutine_can_resume_another)
{
    struct coro_pool *pool = coro_pool_new(16384, 4, 8);
    struct coro *outer = coro_new(pool, body_nested_outer, pool);

    ntrace = 0;
    coro_resume(outer, 0);
    cr_assert_str_eq(trace, "oi");
    cr_assert_eq(coro_resume(outer, 0), CORO_FINISHED);
    cr_assert_str_eq(trace, "oijp");
    coro_free(outer);
    coro_pool_free(pool);
}

static void body_data(struct coro *co, void *arg)
{
    (void)arg;
    coro_set_data(co, (void *)(uintptr_t)99);
}

Test(coro, owner_data)
{
    struct coro_pool *pool = coro_pool_new(16384, 4, 8);
    struct coro *co = coro_new(pool, body_data, NULL);

    cr_assert_null(coro_data(co));
    coro_resume(co, 0);
    cr_assert_eq((uintptr_t)coro_data(co), 99);
    coro_free(co);
    coro_pool_free(pool);
}
