/* workpool.c - a few threads that run slow jobs (password hashes) off the event loops. */
#include "core/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The nice value of pool threads (Linux applies it to the calling thread). */
#define WORKPOOL_NICE 10

enum job_state {
    JOB_QUEUED,    /* waits for a thread */
    JOB_RUNNING,   /* a thread runs it */
    JOB_POSTED,    /* done; its loop will wake the submitter */
    JOB_DONE,      /* the submitter may read it */
    JOB_ABANDONED, /* the submitter was cancelled: whoever holds it next frees it */
};

struct workpool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct workpool_job *head, **tail;
    /* Finished jobs whose waiter was cancelled while their wake-up was
     * posted: freed by that post if it runs, else kept here (a loop that is
     * freed drops the posts it has not run). */
    struct workpool_job *orphans;
    size_t queued, running, n_orphans, queue_max;
};

/* Takes job off the orphan list (under p->lock). */
static void orphan_unlink(struct workpool *p, struct workpool_job *job)
{
    struct workpool_job **pp = &p->orphans;

    while (*pp != job)
        pp = &(*pp)->next;
    *pp = job->next;
    p->n_orphans--;
}

/* On the job's loop thread: wake the submitter, or free an orphan. */
static void job_done(void *arg)
{
    struct workpool_job *job = arg;
    struct workpool *p = job->pool;
    bool orphan;

    pthread_mutex_lock(&p->lock);
    orphan = job->state == JOB_ABANDONED;
    if (orphan)
        orphan_unlink(p, job);
    else
        job->state = JOB_DONE;
    pthread_mutex_unlock(&p->lock);
    if (orphan)
        job->free(job);
    else
        loop_wakeup(job->loop, job->waiter);
}

/* Posts job_done to the job's loop. Under p->lock, so that the loop (which
 * takes the lock to cancel a waiter before it is freed) still exists. */
static void post_done(struct workpool_job *job)
{
    struct timespec pause = {.tv_nsec = 1000000};

    job->state = JOB_POSTED;
    while (loop_post(job->loop, job_done, job) < 0)
        nanosleep(&pause, NULL); /* out of memory: try again shortly */
}

static struct workpool_job *queue_pop(struct workpool *p)
{
    struct workpool_job *job = p->head;

    p->head = job->next;
    if (!p->head)
        p->tail = &p->head;
    p->queued--;
    return job;
}

static void *pool_thread(void *arg)
{
    struct workpool *p = arg;

    /* Below the event loops: a burst of slow jobs must not take their CPU. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKPOOL_NICE);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct workpool_job *job;

        while (!p->head)
            pthread_cond_wait(&p->ready, &p->lock);
        job = queue_pop(p);
        p->running++;
        job->state = JOB_RUNNING;
        pthread_mutex_unlock(&p->lock);
        job->run(job);
        pthread_mutex_lock(&p->lock);
        p->running--;
        if (job->state != JOB_ABANDONED) {
            post_done(job);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        job->free(job);
        pthread_mutex_lock(&p->lock);
    }
    return NULL;
}

struct workpool *workpool_new(unsigned threads, size_t queue_max)
{
    struct workpool *p = calloc(1, sizeof *p);
    unsigned started = 0;
    sigset_t all, old;
    pthread_t t;
    int err = 0;

    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->ready, NULL);
    p->tail = &p->head;
    p->queue_max = queue_max;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < (threads ? threads : 1) && !err; i++) {
        err = pthread_create(&t, NULL, pool_thread, p);
        if (!err) {
            pthread_detach(t);
            started++;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == 0) {
        pthread_cond_destroy(&p->ready);
        pthread_mutex_destroy(&p->lock);
        free(p);
        errno = err;
        return NULL;
    }
    return p; /* its threads run as long as the process */
}

/* The submitter's coroutine is cancelled (its worker stops) while it waits. */
static void job_cancel(void *arg)
{
    struct workpool_job *job = arg;
    struct workpool *p = job->pool;
    bool free_now = true;

    pthread_mutex_lock(&p->lock);
    if (job->state == JOB_QUEUED) {
        struct workpool_job **pp = &p->head;

        while (*pp != job)
            pp = &(*pp)->next;
        *pp = job->next;
        if (!*pp)
            p->tail = pp;
        p->queued--;
    } else if (job->state == JOB_POSTED) {
        job->state = JOB_ABANDONED; /* job_done frees it, if it still runs */
        job->next = p->orphans;
        p->orphans = job;
        p->n_orphans++;
        free_now = false;
    } else if (job->state == JOB_RUNNING) {
        job->state = JOB_ABANDONED; /* its thread frees it */
        free_now = false;
    }
    pthread_mutex_unlock(&p->lock);
    if (free_now)
        job->free(job);
}

static bool job_finished(struct workpool_job *job)
{
    bool done;

    pthread_mutex_lock(&job->pool->lock);
    done = job->state == JOB_DONE;
    pthread_mutex_unlock(&job->pool->lock);
    return done;
}

int workpool_run(struct workpool *p, struct loop *loop, struct workpool_job *job)
{
    struct coro *co = loop_current(loop);

    job->pool = p;
    job->loop = loop;
    job->waiter = co;
    job->next = NULL;
    job->defer = coro_defer(co, job_cancel, job);
    if (job->defer < 0)
        return -ENOMEM;
    pthread_mutex_lock(&p->lock);
    if (p->queued >= p->queue_max) {
        pthread_mutex_unlock(&p->lock);
        coro_defer_disarm(co, job->defer);
        return -EAGAIN;
    }
    job->state = JOB_QUEUED;
    *p->tail = job;
    p->tail = &job->next;
    p->queued++;
    pthread_cond_signal(&p->ready);
    pthread_mutex_unlock(&p->lock);
    while (!job_finished(job))
        loop_wait(loop, NULL, NULL, 0, 0);
    coro_defer_disarm(co, job->defer);
    return 0;
}

size_t workpool_pending(struct workpool *p)
{
    size_t n;

    pthread_mutex_lock(&p->lock);
    n = p->queued + p->running + p->n_orphans;
    pthread_mutex_unlock(&p->lock);
    return n;
}
