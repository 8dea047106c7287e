/* proxy_balance.c - which upstream a request goes to: round robin, least_conn, random_two, hash. */
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/un.h>

#include "handlers/proxy_internal.h"

/* Smooth weighted round robin (nginx's) among the upstreams in mask. */
static size_t pick_round_robin(struct proxy_balancer *b, const struct proxy_conf *c, uint32_t mask)
{
    int total = 0;
    size_t best = PROXY_MAX_UPSTREAMS;

    for (size_t i = 0; i < c->n_upstreams; i++) {
        if (!(mask & (UINT32_C(1) << i)))
            continue;
        b->current_weight[i] += (int)c->upstreams[i].weight;
        total += (int)c->upstreams[i].weight;
        if (best == PROXY_MAX_UPSTREAMS || b->current_weight[i] > b->current_weight[best])
            best = i;
    }
    b->current_weight[best] -= total;
    return best;
}

static unsigned active_of(const struct proxy_shared *s, size_t i)
{
    return atomic_load_explicit(&s->ups[i].active, memory_order_relaxed);
}

/* -1, 0 or 1 as upstream i carries less, as much or more load per weight than j. */
static int load_cmp(const struct proxy_conf *c, const struct proxy_shared *s, size_t i, size_t j)
{
    uint64_t li = (uint64_t)active_of(s, i) * c->upstreams[j].weight;
    uint64_t lj = (uint64_t)active_of(s, j) * c->upstreams[i].weight;

    return li < lj ? -1 : li > lj;
}

/* The upstreams of mask with the least load per weight, round robin among them. */
static size_t pick_least_conn(struct proxy_balancer *b, const struct proxy_conf *c,
                              const struct proxy_shared *s, uint32_t mask)
{
    uint32_t least = 0;
    size_t first = PROXY_MAX_UPSTREAMS;

    for (size_t i = 0; i < c->n_upstreams; i++) {
        if (!(mask & (UINT32_C(1) << i)))
            continue;
        if (first == PROXY_MAX_UPSTREAMS || load_cmp(c, s, i, first) < 0) {
            first = i;
            least = 0;
        }
        if (load_cmp(c, s, i, first) == 0)
            least |= UINT32_C(1) << i;
    }
    return pick_round_robin(b, c, least);
}

/* xorshift64*: the balancer's own generator, one per worker and route. */
static uint64_t rng_next(struct proxy_balancer *b)
{
    if (b->rng == 0)
        b->rng = UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)(uintptr_t)b;
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * UINT64_C(0x2545F4914F6CDD1D);
}

/* One upstream of mask drawn with probability proportional to its weight. */
static size_t pick_weighted_random(struct proxy_balancer *b, const struct proxy_conf *c,
                                   uint32_t mask)
{
    uint64_t total = 0, r;
    size_t last = 0;

    for (size_t i = 0; i < c->n_upstreams; i++)
        if (mask & (UINT32_C(1) << i))
            total += c->upstreams[i].weight;
    r = rng_next(b) % total;
    for (size_t i = 0; i < c->n_upstreams; i++) {
        if (!(mask & (UINT32_C(1) << i)))
            continue;
        if (r < c->upstreams[i].weight)
            return i;
        r -= c->upstreams[i].weight;
        last = i;
    }
    return last;
}

/* The power of two choices: two weighted draws, the less loaded one. */
static size_t pick_random_two(struct proxy_balancer *b, const struct proxy_conf *c,
                              const struct proxy_shared *s, uint32_t mask)
{
    size_t one = pick_weighted_random(b, c, mask), two;

    if ((mask & ~(UINT32_C(1) << one)) == 0)
        return one;
    two = pick_weighted_random(b, c, mask & ~(UINT32_C(1) << one));
    return load_cmp(c, s, two, one) < 0 ? two : one;
}

/* splitmix64's finaliser: spreads every input bit over the result. */
static uint64_t mix64(uint64_t h)
{
    h ^= h >> 30;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 27;
    h *= UINT64_C(0x94D049BB133111EB);
    return h ^ (h >> 31);
}

/* FNV-1a over len bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001B3);
    return h;
}

#define FNV_BASIS UINT64_C(0xCBF29CE484222325)

/*
 * Weighted rendezvous hashing: each upstream scores -weight / ln(u), u a
 * uniform draw in (0, 1) from the key and the upstream's address, and the
 * highest score wins. An upstream's share is its weight's; one that leaves
 * the mask moves only the keys it had.
 */
static size_t pick_hash(const struct proxy_conf *c, uint32_t mask, uint64_t key)
{
    size_t best = 0;
    double best_score = -1.0;

    for (size_t i = 0; i < c->n_upstreams; i++) {
        const char *text = c->upstreams[i].text;
        uint64_t h;
        double u, score;

        if (!(mask & (UINT32_C(1) << i)))
            continue;
        h = mix64(fnv1a(key, text, strlen(text)));
        u = ((double)(h >> 11) + 0.5) / 9007199254740992.0; /* (0, 1): 53 bits */
        score = -(double)c->upstreams[i].weight / log(u);
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

size_t proxy_balance_pick(struct proxy_balancer *b, const struct proxy_conf *c,
                          const struct proxy_shared *s, uint32_t eligible, uint64_t key)
{
    switch (c->balance) {
    case PROXY_LEAST_CONN: return pick_least_conn(b, c, s, eligible);
    case PROXY_RANDOM_TWO: return pick_random_two(b, c, s, eligible);
    case PROXY_HASH: return pick_hash(c, eligible, key);
    case PROXY_ROUND_ROBIN:
    default: return pick_round_robin(b, c, eligible);
    }
}

/* The client's address without its port. */
static uint64_t client_key(const struct http_exchange *x)
{
    const struct sockaddr *sa = x->peer;

    if (sa && sa->sa_family == AF_INET)
        return fnv1a(FNV_BASIS, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    if (sa && sa->sa_family == AF_INET6)
        return fnv1a(FNV_BASIS, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    return FNV_BASIS; /* a unix socket: every client is the same */
}

uint64_t proxy_balance_key(const struct proxy_conf *c, const struct http_exchange *x)
{
    const char *value;
    size_t len;

    if (!c->hash_header[0])
        return client_key(x);
    value = http_req_header(x, c->hash_header, &len);
    return value ? fnv1a(FNV_BASIS, value, len) : client_key(x);
}
