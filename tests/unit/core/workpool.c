/* Unit tests of server/core/workpool.c: jobs run off the loop, waiters woken, cancels safe. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/workpool.h"
#include "loop_test.h"

struct sum_job {
    struct workpool_job base;
    pthread_t ran_on;
    int in, out;
    _Atomic int *freed;
};

/* While set, jobs other than job 0 wait in sum_run (the cancel test). */
static atomic_bool gate_closed;

static void sum_run(struct workpool_job *job)
{
    struct sum_job *j = (struct sum_job *)job;

    usleep(2000); /* something slow */
    for (int i = 0; j->in != 0 && atomic_load(&gate_closed) && i < 20000; i++)
        usleep(1000);
    j->ran_on = pthread_self();
    j->out = j->in * 2;
}

static void sum_free(struct workpool_job *job)
{
    struct sum_job *j = (struct sum_job *)job;

    atomic_fetch_add(j->freed, 1);
    free(j);
}

struct client {
    struct loop *loop;
    struct workpool *pool;
    int in, out, rc;
    bool other_thread;
    _Atomic int *freed;
    int *running;
};

static void client_body(struct coro *co, void *arg)
{
    struct client *c = arg;
    struct sum_job *j = calloc(1, sizeof *j);

    (void)co;
    j->base = (struct workpool_job){.run = sum_run, .free = sum_free};
    j->in = c->in;
    j->freed = c->freed;
    c->rc = workpool_run(c->pool, c->loop, &j->base);
    if (c->rc == 0) {
        c->out = j->out;
        c->other_thread = !pthread_equal(j->ran_on, pthread_self());
        j->base.free(&j->base);
    }
    if (--*c->running == 0)
        loop_stop(c->loop);
}

Test(workpool, jobs_run_on_pool_threads_and_wake_their_coroutines)
{
    struct loop *loop = loop_new(STACK);
    struct workpool *pool = workpool_new(2, 64);
    struct client c[20];
    _Atomic int freed = 0;
    int running = 20;

    cr_assert_not_null(loop);
    cr_assert_not_null(pool);
    for (int i = 0; i < 20; i++) {
        c[i] = (struct client){
            .loop = loop, .pool = pool, .in = i, .freed = &freed, .running = &running};
        loop_spawn(loop, client_body, &c[i]);
    }
    run(loop);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(c[i].rc, 0);
        cr_assert_eq(c[i].out, 2 * i);
        cr_assert(c[i].other_thread, "job %d ran on the loop's thread", i);
    }
    cr_assert_eq(atomic_load(&freed), 20);
    cr_assert_eq(workpool_pending(pool), 0);
    loop_free(loop);
}

Test(workpool, a_full_queue_refuses_at_once)
{
    struct loop *loop = loop_new(STACK);
    struct workpool *pool = workpool_new(1, 2);
    struct client c[6];
    _Atomic int freed = 0;
    int running = 6, refused = 0, ran = 0;

    for (int i = 0; i < 6; i++) {
        c[i] = (struct client){
            .loop = loop, .pool = pool, .in = i, .freed = &freed, .running = &running};
        loop_spawn(loop, client_body, &c[i]);
    }
    run(loop);
    for (int i = 0; i < 6; i++) {
        refused += c[i].rc == -EAGAIN;
        ran += c[i].rc == 0 && c[i].out == 2 * i;
    }
    cr_assert_eq(ran + refused, 6);
    cr_assert_geq(refused, 1, "six jobs at once fit a queue of two");
    cr_assert_geq(ran, 2);
    loop_free(loop);
}

Test(workpool, a_cancelled_waiter_leaves_the_job_to_the_pool)
{
    struct loop *loop = loop_new(STACK);
    struct workpool *pool = workpool_new(1, 64);
    struct client c[8];
    _Atomic int freed = 0;
    int running = 100; /* never reaches 0: the loop is freed with waiters */
    long deadline;

    atomic_store(&gate_closed, true);
    for (int i = 0; i < 8; i++) {
        c[i] = (struct client){
            .loop = loop, .pool = pool, .in = i, .freed = &freed, .running = &running};
        loop_spawn(loop, client_body, &c[i]);
    }
    /* Job 0 finishes and its wake-up is posted (the loop never runs it);
     * job 1 runs, held at the gate; jobs 2 to 7 are queued. */
    deadline = 0;
    while (workpool_pending(pool) != 7 && deadline++ < 20000)
        usleep(1000);
    cr_assert_eq(workpool_pending(pool), 7, "job 0 done, 1 running, 6 queued");
    loop_free(loop); /* cancels every waiter, drops the posted wake-up */
    atomic_store(&gate_closed, false);
    deadline = 0;
    while (atomic_load(&freed) < 7 && deadline++ < 20000)
        usleep(1000);
    /* the one whose wake-up the freed loop dropped is kept by the pool */
    cr_assert_eq(workpool_pending(pool), 1);
    cr_assert_eq(atomic_load(&freed) + (int)workpool_pending(pool), 8,
                 "every job is freed once (by the pool or its cancel) or kept");
}
