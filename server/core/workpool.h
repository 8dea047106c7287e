/* workpool.h - a few threads that run slow jobs (password hashes) off the event loops. */
#ifndef COHTTPD_CORE_WORKPOOL_H
#define COHTTPD_CORE_WORKPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"

struct workpool;

/*
 * A job, embedded by its owner in a heap-allocated struct. The pool calls
 * run(job) on one of its threads; the coroutine that submitted it waits in
 * its loop meanwhile and is woken through loop_post() (the loop's eventfd).
 * free(job) releases the owner's struct: the pool calls it itself when the
 * waiting coroutine was cancelled before the job finished (the worker
 * stopped), else the submitter calls it after workpool_run returns.
 */
struct workpool_job {
    void (*run)(struct workpool_job *job);  /* on a pool thread; must not touch any loop */
    void (*free)(struct workpool_job *job); /* frees the embedding struct */
    /* private to workpool.c */
    struct workpool_job *next;
    struct workpool *pool;
    struct loop *loop;
    struct coro *waiter;
    int state;
    int defer;
};

/* Starts threads (at least 1) that run jobs, with every signal blocked and
 * at nice 10, below the event loops.
 * queue_max bounds the jobs waiting for a thread. Returns NULL with errno
 * set. Call it from the main thread. */
struct workpool *workpool_new(unsigned threads, size_t queue_max);

/*
 * Queues job on p and blocks the running coroutine of loop until a pool
 * thread has run it. Returns 0 (the job ran; the caller reads its results
 * and calls job->free), -EAGAIN when queue_max jobs already wait (job not
 * queued: the caller frees it), or -ENOMEM. If the coroutine is cancelled
 * while it waits, the pool frees the job once it is done with it (or
 * keeps it, when the loop is freed before the job's wake-up ran). May
 * yield; must run in a coroutine of loop.
 */
int workpool_run(struct workpool *p, struct loop *loop, struct workpool_job *job);

/* Jobs queued or running now, and finished jobs kept because their waiter
 * was cancelled while its loop was being freed (at most one per waiter
 * of a stopped worker). For tests and the status page; any thread. */
size_t workpool_pending(struct workpool *p);

#endif
