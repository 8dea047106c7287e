/* proxy_health.c - passive health: failures within fail_timeout take an upstream out, for every
 * worker. */
#include <stdatomic.h>
#include <time.h>

#include "core/log.h"
#include "handlers/proxy_internal.h"

bool proxy_health_fail(struct proxy_shared *s, size_t up, const struct proxy_conf *c, uint64_t now)
{
    struct proxy_up_shared *u = &s->ups[up];
    uint64_t start;
    unsigned fails;

    atomic_fetch_add_explicit(&u->failures, 1, memory_order_relaxed);
    if (c->max_fails == 0)
        return false;
    start = atomic_load_explicit(&u->window_start, memory_order_relaxed);
    if (start == 0 || now >= start + c->fail_timeout_ms) {
        /* a new window: the failures of the last one are forgotten */
        if (atomic_compare_exchange_strong(&u->window_start, &start, now))
            atomic_store_explicit(&u->fails, 0, memory_order_relaxed);
    }
    fails = atomic_fetch_add_explicit(&u->fails, 1, memory_order_relaxed) + 1;
    if (fails != c->max_fails)
        return false;
    atomic_store_explicit(&u->down_until, now + c->fail_timeout_ms, memory_order_relaxed);
    atomic_store_explicit(&u->window_start, 0, memory_order_relaxed);
    log_warn("upstream %s: %u failure%s within fail_timeout: skipped for %llu ms",
             c->upstreams[up].text, fails, fails == 1 ? "" : "s",
             (unsigned long long)c->fail_timeout_ms);
    return true;
}

uint32_t proxy_health_up(const struct proxy_shared *s, const struct proxy_conf *c, uint64_t now)
{
    uint32_t up = 0;

    for (size_t i = 0; i < c->n_upstreams; i++)
        if (atomic_load_explicit(&s->ups[i].down_until, memory_order_relaxed) <= now &&
            !atomic_load_explicit(&s->ups[i].checked_down, memory_order_relaxed))
            up |= UINT32_C(1) << i;
    return up;
}

size_t proxy_health_view(const void *state, struct handler_upstream *out, size_t cap)
{
    const struct proxy_shared *s = state;
    const struct proxy_conf *c = s->conf;
    struct timespec ts;
    uint32_t up;
    size_t n = c->n_upstreams < cap ? c->n_upstreams : cap;

    /* loop_now()'s clock: CLOCK_MONOTONIC in milliseconds */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    up = proxy_health_up(s, c, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
    for (size_t i = 0; i < n; i++) {
        const struct proxy_up_shared *u = &s->ups[i];

        out[i] = (struct handler_upstream){
            .address = c->upstreams[i].text,
            .up = (up >> i) & 1,
            .failures = atomic_load_explicit(&u->failures, memory_order_relaxed),
            .retries = atomic_load_explicit(&u->retries, memory_order_relaxed),
            .active = atomic_load_explicit(&u->active, memory_order_relaxed),
            .idle = atomic_load_explicit(&u->idle, memory_order_relaxed),
        };
    }
    return n;
}
