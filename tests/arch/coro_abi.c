/* coro_abi.c - the coroutine switch keeps what a function call keeps.
 *
 * Values the compiler holds in callee-saved registers (integer and
 * floating-point) survive a switch on both sides, every coroutine starts on
 * an aligned stack, many stacks interleave without mixing, a coroutine can
 * resume another, and a coroutine can use most of its stack.
 *
 * A plain program rather than a Criterion test so that tests/run can also
 * build it for the other architecture with a cross compiler and run it under
 * qemu-user: the x86-64 and AArch64 switches are both tested on either host.
 * Natively it is the ctest test unit/core/coro_abi. Exits 0 when every check
 * held, 1 otherwise. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/coro.h"

static unsigned checks, failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Read through volatiles, so the compiler can neither fold the values below
 * into constants nor recompute them after a switch: it has to keep them, and
 * comparing them with a second read after the switch cannot be folded away. */
static volatile uint64_t ints_main[12] = {3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41};
static volatile double reals_main[8] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5};
static volatile uint64_t ints_coro[12] = {
    0x9e3779b97f4a7c15u, 0x2545f4914f6cdd1du, 0xbf58476d1ce4e5b9u, 0x94d049bb133111ebu,
    0xff51afd7ed558ccdu, 0xc4ceb9fe1a85ec53u, 0x87c37b91114253d5u, 0x4cf5ad432745937fu,
    0x52dce729da3ed1f5u, 0x38495ab5d8ce2a87u, 0x1b873593cc9e2d51u, 0xe6546b64a5b35a19u};
static volatile double reals_coro[8] = {-1e10, -2e10, -3e10, -4e10, -5e10, -6e10, -7e10, -8e10};

/* Twelve integers and eight doubles live across a switch: more than either
 * architecture has callee-saved registers, so all of those are in use. */
#define LIVE_DECLARE(in, re)                                                                       \
    uint64_t v0 = in[0], v1 = in[1], v2 = in[2], v3 = in[3], v4 = in[4], v5 = in[5], v6 = in[6],   \
             v7 = in[7], v8 = in[8], v9 = in[9], v10 = in[10], v11 = in[11];                       \
    double f0 = re[0], f1 = re[1], f2 = re[2], f3 = re[3], f4 = re[4], f5 = re[5], f6 = re[6],     \
           f7 = re[7]

#define LIVE_MATCHES(in, re)                                                                       \
    (v0 == in[0] && v1 == in[1] && v2 == in[2] && v3 == in[3] && v4 == in[4] && v5 == in[5] &&     \
     v6 == in[6] && v7 == in[7] && v8 == in[8] && v9 == in[9] && v10 == in[10] && v11 == in[11] && \
     f0 == re[0] && f1 == re[1] && f2 == re[2] && f3 == re[3] && f4 == re[4] && f5 == re[5] &&     \
     f6 == re[6] && f7 == re[7])

enum { ROUNDS = 1000 };

static void body_live(struct coro *co, void *arg)
{
    LIVE_DECLARE(ints_coro, reals_coro);
    unsigned bad = 0;

    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        coro_yield(co, r);
        if (!LIVE_MATCHES(ints_coro, reals_coro))
            bad++;
    }
    CHECK(bad == 0, "coroutine side: registers lost across %u of %d yields", bad, ROUNDS);
}

static void check_live_values(void)
{
    struct coro_pool *pool = coro_pool_new(16384, 1, 1);
    struct coro *co = coro_new(pool, body_live, NULL);
    LIVE_DECLARE(ints_main, reals_main);
    unsigned bad = 0, order = 0;

    for (int r = 0; r <= ROUNDS; r++) {
        int got = coro_resume(co, 0);

        if (!LIVE_MATCHES(ints_main, reals_main))
            bad++;
        if (got != (r < ROUNDS ? r : CORO_FINISHED))
            order++;
    }
    CHECK(bad == 0, "resumer side: registers lost across %u of %d resumes", bad, ROUNDS + 1);
    CHECK(order == 0, "%u resumes returned the wrong value", order);
    CHECK(coro_finished(co), "the coroutine did not finish");
    coro_free(co);
    coro_pool_free(pool);
}

/* Hidden from the optimiser, which would otherwise fold the test to true
 * since it assumes the ABI holds. */
static int aligned16(const void *p)
{
    uintptr_t v = (uintptr_t)p;

    __asm__ volatile("" : "+r"(v));
    return (v & 15) == 0;
}

static __attribute__((noinline)) int callee_aligned(void)
{
    _Alignas(16) char probe[16] = {0};
    char text[32];

    /* Formatting a double uses vector registers on some libcs' paths; with a
     * misaligned stack that is where a broken switch shows first. */
    snprintf(text, sizeof text, "%.3f", 1.0 / 3.0);
    return aligned16(probe) && strcmp(text, "0.333") == 0;
}

static void body_aligned(struct coro *co, void *arg)
{
    _Alignas(16) char probe[16] = {0};
    int *ok = arg;

    *ok = aligned16(probe) && callee_aligned();
    coro_yield(co, 0);
    *ok = *ok && aligned16(probe) && callee_aligned();
}

static void check_alignment(void)
{
    struct coro_pool *pool = coro_pool_new(16384, 1, 1);
    int ok = 0;

    for (int i = 0; i < 4; i++) { /* fresh and reused stacks */
        struct coro *co = coro_new(pool, body_aligned, &ok);

        coro_resume(co, 0);
        coro_resume(co, 0);
        CHECK(ok, "coroutine %d ran on a stack not aligned to 16 bytes", i);
        coro_free(co);
    }
    coro_pool_free(pool);
}

enum { MANY = 300, MANY_ROUNDS = 50 };

/* Each coroutine fills a buffer on its own stack with its own pattern and
 * checks it after every switch: stacks that overlapped or were restored from
 * the wrong place would show. */
static void body_many(struct coro *co, void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    unsigned char buf[512];
    unsigned bad = 0;

    memset(buf, (int)(id & 0xff), sizeof buf);
    for (int r = 0; r < MANY_ROUNDS; r++) {
        coro_yield(co, (int)id);
        for (size_t i = 0; i < sizeof buf; i++)
            bad += buf[i] != (unsigned char)(id & 0xff);
    }
    coro_yield(co, bad ? -1 : (int)id);
}

static void check_many_stacks(void)
{
    struct coro_pool *pool = coro_pool_new(16384, 8, 16);
    struct coro *co[MANY];
    unsigned wrong = 0;

    for (uintptr_t i = 0; i < MANY; i++)
        co[i] = coro_new(pool, body_many, (void *)i);
    for (int r = 0; r <= MANY_ROUNDS; r++)
        for (int i = 0; i < MANY; i++)
            wrong += coro_resume(co[i], 0) != i;
    for (int i = 0; i < MANY; i++) {
        wrong += coro_resume(co[i], 0) != CORO_FINISHED;
        coro_free(co[i]);
    }
    CHECK(wrong == 0, "%u of %d interleaved switches came back wrong", wrong,
          MANY * (MANY_ROUNDS + 2));
    CHECK(coro_pool_live(pool) == 0, "%zu coroutines still alive", coro_pool_live(pool));
    coro_pool_free(pool);
}

static void body_inner(struct coro *co, void *arg)
{
    (void)arg;
    coro_yield(co, 10);
    coro_yield(co, 20);
}

static void body_outer(struct coro *co, void *arg)
{
    struct coro *inner = coro_new(coro_data(co), body_inner, NULL);
    int a, b, c;

    (void)arg;
    a = coro_resume(inner, 0);
    coro_yield(co, a + 1);
    b = coro_resume(inner, 0);
    c = coro_resume(inner, 0);
    coro_free(inner);
    coro_yield(co, b + 2 + (c == CORO_FINISHED ? 100 : 0));
}

static void check_nested(void)
{
    struct coro_pool *pool = coro_pool_new(16384, 2, 2);
    struct coro *outer = coro_new(pool, body_outer, NULL);
    int first, second, last;

    coro_set_data(outer, pool);
    first = coro_resume(outer, 0);
    second = coro_resume(outer, 0);
    last = coro_resume(outer, 0);
    CHECK(first == 11 && second == 122 && last == CORO_FINISHED,
          "a coroutine resuming another gave %d, %d, %d (want 11, 122, finished)", first, second,
          last);
    coro_free(outer);
    coro_pool_free(pool);
}

/* Recurses with frames of at least 256 bytes until it has used three
 * quarters of the stack (measured by address, so sanitizer redzones do not
 * matter), switches at the bottom, and checks every frame on the way back
 * up. Returns the number of frames that kept their contents; *depth gets
 * the number of frames. */
static __attribute__((noinline)) unsigned deep(struct coro *co, uintptr_t top, size_t limit,
                                               unsigned level, unsigned *depth)
{
    volatile unsigned char frame[256];
    unsigned good = 0;

    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (unsigned char)(level + i);
    if (top - (uintptr_t)frame < limit) {
        good = deep(co, top, limit, level + 1, depth);
    } else {
        *depth = level + 1;
        coro_yield(co, 1);
    }
    for (size_t i = 0; i < sizeof frame; i++)
        if (frame[i] != (unsigned char)(level + i))
            return good;
    return good + 1;
}

static void body_deep(struct coro *co, void *arg)
{
    size_t limit = *(size_t *)arg;
    unsigned char here;
    unsigned depth = 0, good = deep(co, (uintptr_t)&here, limit, 0, &depth);

    coro_yield(co, good == depth && depth > 100 ? 2 : -(int)good);
}

static void check_deep_stack(void)
{
    struct coro_pool *pool = coro_pool_new(65536, 1, 1);
    size_t limit = coro_pool_stack_size(pool) * 3 / 4;
    struct coro *co = coro_new(pool, body_deep, &limit);
    int bottom = coro_resume(co, 0);
    int frames = coro_resume(co, 0);

    CHECK(bottom == 1 && frames == 2, "%zu bytes deep: switch gave %d, frames check %d", limit,
          bottom, frames);
    coro_resume(co, 0);
    coro_free(co);
    coro_pool_free(pool);
}

int main(void)
{
    check_live_values();
    check_alignment();
    check_many_stacks();
    check_nested();
    check_deep_stack();
    printf("coro_abi: %u of %u checks held\n", checks - failures, checks);
    return failures ? 1 : 0;
}
