/* pool.h - the process's work pool for handlers: password hashes, compression. */
#ifndef COHTTPD_HANDLERS_POOL_H
#define COHTTPD_HANDLERS_POOL_H

#include "core/workpool.h"

/* Jobs waiting for a thread in the whole process before a handler answers 503. */
#define HANDLERS_POOL_QUEUE_MAX 4096

/*
 * The one work pool of the process (one thread per CPU, 2 to 8), started
 * the first time any thread asks; it lives as long as the process, across
 * reloads. Returns NULL with errno set when its threads cannot start.
 * Never yields.
 */
struct workpool *handlers_pool(void);

#endif
