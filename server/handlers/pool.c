/* pool.c - the process's work pool for handlers: password hashes, compression. */
#include "handlers/pool.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

/* Process-wide by design: hash checks and compression need threads that
 * no worker owns, and one pool shared by every route bounds them. */
static struct workpool *pool;
static int pool_errno;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_start(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cpus < 2 ? 2 : cpus > 8 ? 8 : (unsigned)cpus;

    pool = workpool_new(threads, HANDLERS_POOL_QUEUE_MAX);
    if (!pool)
        pool_errno = errno;
}

struct workpool *handlers_pool(void)
{
    pthread_once(&pool_once, pool_start);
    if (!pool)
        errno = pool_errno;
    return pool;
}
