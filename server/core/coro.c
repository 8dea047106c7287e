/* coro.c - stackful coroutines: context switch glue, stack pool, defers. */
#include "core/coro.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(CORO_SWITCH_UCONTEXT)
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum { CORO_SUSPENDED, CORO_RUNNING, CORO_DONE };

struct coro_defer_slot {
    void (*fn)(void *data);
    void *data;
};

/* Lives at the top of its own stack mapping. While the stack sits in the
 * pool, only map, map_len and next_free are meaningful. */
struct coro {
#if defined(CORO_SWITCH_UCONTEXT)
    ucontext_t ctx;
    ucontext_t caller_ctx;
#else
    void *sp;        /* saved stack pointer of the suspended coroutine */
    void *caller_sp; /* saved stack pointer of whoever resumed it */
#endif
    struct coro_pool *pool;
    coro_fn fn;
    void *arg;
    void *data;
#if defined(CORO_SWITCH_UCONTEXT)
    int transfer; /* the value carried by the last resume or yield */
#endif
    unsigned char state; /* CORO_SUSPENDED, CORO_RUNNING or CORO_DONE: one
                            byte, so the check in coro_resume reads what the
                            last switch stored without a forwarding stall */
    unsigned ndefer;
    char *map; /* the whole mapping, guard page first */
    size_t map_len;
    struct coro *next_free;
#ifdef CORO_ASAN
    void *fake_stack;          /* ASan's fake stack of the coroutine */
    void *caller_fake_stack;   /* ASan's fake stack of the resumer */
    const void *caller_bottom; /* the resumer's stack, for the switch back */
    size_t caller_size;
#endif
#ifdef HAVE_VALGRIND_H
    unsigned valgrind_id;
#endif
    /* Last: coro_new clears what comes before it, and only the first
     * ndefer slots are ever read. */
    struct coro_defer_slot defer[CORO_MAX_DEFER];
};

struct coro_pool {
    size_t stack_size; /* usable bytes */
    size_t map_len;
    size_t page;
    size_t keep_hot, keep_max;
    struct coro *hot; /* released, pages kept */
    size_t nhot;
    struct coro *cold; /* released, pages returned */
    size_t ncold;
    size_t live;
};

#if !defined(CORO_SWITCH_UCONTEXT)
int coro_switch(void **save_sp, void *load_sp, int value);
void coro_trampoline(void);
#endif

static char *coro_stack_bottom(const struct coro *co, const struct coro_pool *pool)
{
    return co->map + pool->page;
}

static size_t coro_stack_len(const struct coro *co, const struct coro_pool *pool)
{
    return (size_t)((const char *)co - coro_stack_bottom(co, pool));
}

#if defined(CORO_ASAN) || defined(CORO_SWITCH_UCONTEXT)
/* The sanitizer must know which stack runs next (see asan_interface.h). */
static inline void coro_asan_enter(struct coro *co)
{
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(&co->caller_fake_stack, coro_stack_bottom(co, co->pool),
                                   coro_stack_len(co, co->pool));
#else
    (void)co;
#endif
}

static inline void coro_asan_left(struct coro *co)
{
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(co->caller_fake_stack, NULL, NULL);
#else
    (void)co;
#endif
}
#endif

static inline void coro_asan_entered(struct coro *co)
{
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(co->fake_stack, &co->caller_bottom, &co->caller_size);
#else
    (void)co;
#endif
}

static inline void coro_asan_leave(struct coro *co)
{
#ifdef CORO_ASAN
    /* A finished coroutine will not come back: let ASan drop its fake stack. */
    __sanitizer_start_switch_fiber(co->state == CORO_DONE ? NULL : &co->fake_stack,
                                   co->caller_bottom, co->caller_size);
#else
    (void)co;
#endif
}

static void coro_run_defers(struct coro *co)
{
    while (co->ndefer > 0) {
        struct coro_defer_slot *d = &co->defer[--co->ndefer];

        if (d->fn)
            d->fn(d->data);
    }
}

/* First code run on a new coroutine's stack; never returns. */
static void coro_entry(struct coro *co)
{
    coro_asan_entered(co);
    co->fn(co, co->arg);
    co->state = CORO_DONE;
    coro_run_defers(co);
    coro_asan_leave(co);
#if defined(CORO_SWITCH_UCONTEXT)
    co->transfer = CORO_FINISHED;
    setcontext(&co->caller_ctx);
#else
    coro_switch(&co->sp, co->caller_sp, CORO_FINISHED);
#endif
    abort();
}

#if defined(CORO_SWITCH_UCONTEXT)
static void coro_entry_ucontext(unsigned int hi, unsigned int lo)
{
    coro_entry((struct coro *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo));
}
#endif

static int coro_prepare(struct coro *co)
{
    char *bottom = coro_stack_bottom(co, co->pool);
    size_t len = coro_stack_len(co, co->pool);

#if defined(CORO_SWITCH_UCONTEXT)
    uintptr_t p = (uintptr_t)co;

    if (getcontext(&co->ctx) < 0)
        return -errno;
    co->ctx.uc_stack.ss_sp = bottom;
    co->ctx.uc_stack.ss_size = len;
    co->ctx.uc_link = NULL;
    makecontext(&co->ctx, (void (*)(void))coro_entry_ucontext, 2, (unsigned int)(p >> 16 >> 16),
                (unsigned int)(p & 0xffffffffu));
#else
    uintptr_t top = ((uintptr_t)bottom + len) & ~(uintptr_t)15;
    void **frame;

#if defined(__x86_64__)
    /* r15 r14 r13 r12 rbx rbp ret pad: after the pops and the ret, the
     * trampoline starts with a 16-byte aligned stack. */
    frame = (void **)(top - 72);
    memset(frame, 0, 72);
    frame[2] = (void *)coro_entry; /* r13 */
    frame[3] = co;                 /* r12 */
    frame[6] = (void *)coro_trampoline;
#elif defined(__aarch64__)
    /* x19..x30 then d8..d15; x19 = co, x20 = entry, x30 = trampoline. */
    frame = (void **)(top - 176);
    memset(frame, 0, 176);
    frame[0] = co;
    frame[1] = (void *)coro_entry;
    frame[11] = (void *)coro_trampoline;
#else
#error "no assembly switch for this architecture: configure with COHTTPD_CORO_SWITCH=ucontext"
#endif
    co->sp = frame;
    (void)bottom;
#endif
    return 0;
}

struct coro_pool *coro_pool_new(size_t stack_size, size_t keep_hot, size_t keep_max)
{
    struct coro_pool *pool = calloc(1, sizeof *pool);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (!pool)
        return NULL;
    if (stack_size < 4096)
        stack_size = 4096;
    pool->page = page;
    /* guard page + usable stack + the struct coro at the top */
    pool->map_len = page + ((stack_size + sizeof(struct coro) + page - 1) / page) * page;
    pool->stack_size = pool->map_len - page - sizeof(struct coro) - 64;
    pool->keep_hot = keep_hot;
    pool->keep_max = keep_max < keep_hot ? keep_hot : keep_max;
    return pool;
}

static void coro_unmap(struct coro *co)
{
#ifdef HAVE_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(co->valgrind_id);
#endif
    munmap(co->map, co->map_len);
}

static void coro_free_list(struct coro *co)
{
    while (co) {
        struct coro *next = co->next_free;

        coro_unmap(co);
        co = next;
    }
}

void coro_pool_free(struct coro_pool *pool)
{
    if (!pool)
        return;
    coro_free_list(pool->hot);
    coro_free_list(pool->cold);
    free(pool);
}

size_t coro_pool_stack_size(const struct coro_pool *pool) { return pool->stack_size; }

size_t coro_pool_live(const struct coro_pool *pool) { return pool->live; }

static int coro_guard(char *map, size_t page)
{
    if (madvise(map, page, MADV_GUARD_INSTALL) == 0)
        return 0;
    if (mprotect(map, page, PROT_NONE) == 0)
        return 0;
    return -errno;
}

static struct coro *coro_map_stack(struct coro_pool *pool)
{
    char *map = mmap(NULL, pool->map_len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    struct coro *co;
    uintptr_t at;

    if (map == MAP_FAILED)
        return NULL;
    if (coro_guard(map, pool->page) < 0) {
        munmap(map, pool->map_len);
        errno = ENOMEM;
        return NULL;
    }
    at = ((uintptr_t)map + pool->map_len - sizeof(struct coro)) & ~(uintptr_t)63;
    co = (struct coro *)at;
    co->map = map;
    co->map_len = pool->map_len;
#ifdef HAVE_VALGRIND_H
    co->valgrind_id = VALGRIND_STACK_REGISTER(map + pool->page, (char *)co);
#endif
    return co;
}

static struct coro *coro_take_stack(struct coro_pool *pool)
{
    struct coro *co;

    if (pool->hot) {
        co = pool->hot;
        pool->hot = co->next_free;
        pool->nhot--;
    } else if (pool->cold) {
        co = pool->cold;
        pool->cold = co->next_free;
        pool->ncold--;
    } else {
        co = coro_map_stack(pool);
    }
    return co;
}

struct coro *coro_new(struct coro_pool *pool, coro_fn fn, void *arg)
{
    struct coro *co = coro_take_stack(pool);
    char *map;
    size_t map_len;
#ifdef HAVE_VALGRIND_H
    unsigned vg;
#endif

    if (!co)
        return NULL;
    map = co->map;
    map_len = co->map_len;
#ifdef HAVE_VALGRIND_H
    vg = co->valgrind_id;
#endif
    memset(co, 0, offsetof(struct coro, defer));
    co->map = map;
    co->map_len = map_len;
#ifdef HAVE_VALGRIND_H
    co->valgrind_id = vg;
#endif
    co->pool = pool;
    co->fn = fn;
    co->arg = arg;
    if (coro_prepare(co) < 0) {
        coro_unmap(co);
        errno = ENOMEM;
        return NULL;
    }
    pool->live++;
    return co;
}

/* Without the sanitizer, coro_resume and coro_yield end in a tail call of
 * coro_switch: the switch returns straight to their callers. */
int coro_resume(struct coro *co, int value)
{
    if (co->state != CORO_SUSPENDED)
        abort();
    co->state = CORO_RUNNING;
#if defined(CORO_SWITCH_UCONTEXT)
    co->transfer = value;
    coro_asan_enter(co);
    swapcontext(&co->caller_ctx, &co->ctx);
    coro_asan_left(co);
    return co->transfer;
#elif defined(CORO_ASAN)
    coro_asan_enter(co);
    value = coro_switch(&co->caller_sp, co->sp, value);
    coro_asan_left(co);
    return value;
#else
    return coro_switch(&co->caller_sp, co->sp, value);
#endif
}

int coro_yield(struct coro *co, int value)
{
    co->state = CORO_SUSPENDED;
#if defined(CORO_SWITCH_UCONTEXT)
    co->transfer = value;
    coro_asan_leave(co);
    swapcontext(&co->ctx, &co->caller_ctx);
    coro_asan_entered(co);
    return co->transfer;
#elif defined(CORO_ASAN)
    coro_asan_leave(co);
    value = coro_switch(&co->sp, co->caller_sp, value);
    coro_asan_entered(co);
    return value;
#else
    return coro_switch(&co->sp, co->caller_sp, value);
#endif
}

bool coro_finished(const struct coro *co) { return co->state == CORO_DONE; }

int coro_defer(struct coro *co, void (*fn)(void *data), void *data)
{
    if (co->ndefer == CORO_MAX_DEFER)
        return -ENOMEM;
    co->defer[co->ndefer] = (struct coro_defer_slot){.fn = fn, .data = data};
    return (int)co->ndefer++;
}

void coro_defer_disarm(struct coro *co, int handle)
{
    if (handle < 0 || (unsigned)handle >= co->ndefer)
        return;
    co->defer[handle].fn = NULL;
    while (co->ndefer > 0 && !co->defer[co->ndefer - 1].fn)
        co->ndefer--;
}

void coro_defer_fire(struct coro *co, int handle)
{
    struct coro_defer_slot d;

    if (handle < 0 || (unsigned)handle >= co->ndefer || !co->defer[handle].fn)
        return;
    d = co->defer[handle];
    coro_defer_disarm(co, handle);
    d.fn(d.data);
}

/* Gives the stack back to the pool: kept warm for the next coroutine, or
 * unmapped when the pool holds keep_max already. */
static void coro_release_stack(struct coro_pool *pool, struct coro *co)
{
#ifdef CORO_ASAN
    /* A cancelled coroutine leaves its frames' redzones poisoned. */
    ASAN_UNPOISON_MEMORY_REGION(coro_stack_bottom(co, pool), coro_stack_len(co, pool));
#endif
    if (pool->nhot + pool->ncold >= pool->keep_max) {
        coro_unmap(co);
        return;
    }
    co->next_free = pool->hot;
    pool->hot = co;
    pool->nhot++;
}

size_t coro_pool_trim(struct coro_pool *pool)
{
    struct coro **link = &pool->hot;
    size_t kept = 0, trimmed = 0;

    while (*link && kept < pool->keep_hot) {
        link = &(*link)->next_free;
        kept++;
    }
    while (*link) {
        struct coro *co = *link;
        /* Everything below the page holding the struct goes back. */
        char *lo = coro_stack_bottom(co, pool);
        char *hi = (char *)((uintptr_t)co & ~(uintptr_t)(pool->page - 1));

        *link = co->next_free;
        pool->nhot--;
        if (hi > lo)
            madvise(lo, (size_t)(hi - lo), MADV_DONTNEED);
        co->next_free = pool->cold;
        pool->cold = co;
        pool->ncold++;
        trimmed++;
    }
    return trimmed;
}

size_t coro_pool_shrink(struct coro_pool *pool)
{
    size_t n;

    coro_pool_trim(pool);
    n = pool->ncold;
    coro_free_list(pool->cold);
    pool->cold = NULL;
    pool->ncold = 0;
    return n;
}

void coro_free(struct coro *co)
{
    struct coro_pool *pool;

    if (!co)
        return;
    if (co->state == CORO_RUNNING)
        abort();
    pool = co->pool;
    if (co->state != CORO_DONE)
        coro_run_defers(co);
    pool->live--;
    coro_release_stack(pool, co);
}

void coro_set_data(struct coro *co, void *data) { co->data = data; }

void *coro_data(const struct coro *co) { return co->data; }
