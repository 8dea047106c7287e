/* coro_switch.c - measures the cost of one coroutine switch (resume or yield). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/coro.h"

static void body_ping(struct coro *co, void *arg)
{
    (void)arg;
    for (;;)
        coro_yield(co, 0);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Prints the median over 9 rounds of the time of one switch in ns. */
int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    struct coro_pool *pool = coro_pool_new(16384, 1, 1);
    struct coro *co = coro_new(pool, body_ping, NULL);
    double rounds[9];

    for (int r = 0; r < 9; r++) {
        double t0 = now_ns();

        for (long i = 0; i < iters; i++)
            coro_resume(co, 0);
        /* each resume is two switches: in and back out */
        rounds[r] = (now_ns() - t0) / (double)iters / 2.0;
    }
    for (int i = 1; i < 9; i++)
        for (int j = i; j > 0 && rounds[j] < rounds[j - 1]; j--) {
            double t = rounds[j];

            rounds[j] = rounds[j - 1];
            rounds[j - 1] = t;
        }
    printf("%.2f\n", rounds[4]);
    coro_free(co);
    coro_pool_free(pool);
    return 0;
}
