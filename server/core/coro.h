/* coro.h - stackful coroutines on pooled, guard-paged stacks. */
#ifndef COHTTPD_CORE_CORO_H
#define COHTTPD_CORE_CORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coro;
struct coro_pool;

/* The body of a coroutine. When it returns, the coroutine is finished: its
 * deferred callbacks run (last registered first) and control goes back to
 * whoever resumed it. */
typedef void (*coro_fn)(struct coro *co, void *arg);

/* A stack pool owned by one worker thread (not thread-safe). Each stack is
 * stack_size usable bytes (rounded up to pages) above a guard page, mapped
 * with MAP_NORESERVE so it is faulted in lazily. Released stacks are kept,
 * up to keep_max, for the next coroutine (most recently used first, so
 * they are warm); beyond keep_max they are unmapped. coro_pool_trim()
 * returns the pages of all but keep_hot of the kept stacks to the kernel
 * (MADV_DONTNEED): call it now and then (the loop does, once a second), so
 * that a burst leaves no resident memory behind and a steady load costs no
 * syscall. Returns NULL with errno set. */
struct coro_pool *coro_pool_new(size_t stack_size, size_t keep_hot, size_t keep_max);

/* Gives back the pages of the kept stacks beyond the keep_hot most recently
 * used ones. Returns how many stacks it trimmed. */
size_t coro_pool_trim(struct coro_pool *pool);

/* After a burst is over: trims as coro_pool_trim does, then unmaps every
 * stack whose pages were given back (each still held the page of its
 * struct and a mapping). The keep_hot most recently used stacks stay.
 * Returns how many stacks it unmapped. */
size_t coro_pool_shrink(struct coro_pool *pool);

/* Unmaps every pooled stack. All coroutines of the pool must be freed first. */
void coro_pool_free(struct coro_pool *pool);

/* Usable stack bytes of each coroutine of this pool. */
size_t coro_pool_stack_size(const struct coro_pool *pool);

/* Number of coroutines of this pool that are alive (created, not freed). */
size_t coro_pool_live(const struct coro_pool *pool);

/* Creates a suspended coroutine that will run fn(co, arg) on its first
 * resume. The coroutine struct lives at the top of its own stack mapping: no
 * heap allocation. Returns NULL (errno = ENOMEM) when no stack can be had. */
struct coro *coro_new(struct coro_pool *pool, coro_fn fn, void *arg);

/* Runs co until it yields or finishes. value is what the coroutine's pending
 * coro_yield() returns (ignored on the first resume). Returns the value given
 * to coro_yield(), or CORO_FINISHED when the body returned. Resuming a
 * finished coroutine is a bug (abort). Must not be called from inside co. */
#define CORO_FINISHED INT32_MIN
int coro_resume(struct coro *co, int value);

/* Suspends the running coroutine co and returns to its resumer; coro_resume()
 * there returns value. Returns the value of the next coro_resume(). */
int coro_yield(struct coro *co, int value);

/* True once the body has returned. */
bool coro_finished(const struct coro *co);

/* Registers fn(data) to run when co finishes or is freed while suspended
 * (cancelled), last registered first. Returns a handle >= 0 for
 * coro_defer_disarm(), or -ENOMEM when CORO_MAX_DEFER callbacks are pending. */
#define CORO_MAX_DEFER 16
int coro_defer(struct coro *co, void (*fn)(void *data), void *data);

/* Forgets the deferred callback with this handle without running it, and any
 * registered after it that are still pending are kept. */
void coro_defer_disarm(struct coro *co, int handle);

/* Runs the deferred callback with this handle now and forgets it. */
void coro_defer_fire(struct coro *co, int handle);

/* Frees co. If it is suspended (not finished), it is cancelled: its pending
 * deferred callbacks run (on the caller's stack), and the rest of its stack is
 * discarded without running. The stack goes back to the pool. */
void coro_free(struct coro *co);

/* An opaque pointer for the owner of the coroutine (e.g. its event loop). */
void coro_set_data(struct coro *co, void *data);
void *coro_data(const struct coro *co);

#endif
