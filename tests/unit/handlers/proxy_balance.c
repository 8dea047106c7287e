/* proxy_balance.c - tests for server/handlers/proxy_balance.c and proxy_health.c: who gets a
 * request. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "handlers/proxy_internal.h"

static struct proxy_conf conf;
static struct proxy_shared shared;
static struct proxy_balancer bal;

/* A conf of n upstreams 10.0.0.1:80 ... with the weights given (NULL: 1). */
static void setup(enum proxy_balance b, size_t n, const unsigned *weights)
{
    proxy_conf_defaults(&conf);
    memset(&shared, 0, sizeof shared);
    memset(&bal, 0, sizeof bal);
    conf.balance = b;
    conf.n_upstreams = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(conf.upstreams[i].text, sizeof conf.upstreams[i].text, "10.0.0.%zu:80", i + 1);
        conf.upstreams[i].weight = weights ? weights[i] : 1;
    }
    shared.conf = &conf;
}

#define ALL(n) ((UINT32_C(1) << (n)) - 1)

/* Counts the picks of rounds requests among eligible, keys 0, 1, ... */
static void count_picks(unsigned rounds, uint32_t eligible, unsigned *count)
{
    for (unsigned i = 0; i < rounds; i++) {
        size_t up = proxy_balance_pick(&bal, &conf, &shared, eligible, (uint64_t)i * 0x9E3779B9u);

        cr_assert(eligible & (UINT32_C(1) << up), "pick %zu is not eligible", up);
        count[up]++;
    }
}

Test(proxy_balance, round_robin_gives_each_its_weight_exactly)
{
    static const unsigned w[] = {5, 1, 1};
    unsigned count[3] = {0};
    size_t seq[7];

    setup(PROXY_ROUND_ROBIN, 3, w);
    for (int i = 0; i < 7; i++)
        seq[i] = proxy_balance_pick(&bal, &conf, &shared, ALL(3), 0);
    /* nginx's smooth sequence for 5, 1, 1: a a b a c a a */
    cr_assert(seq[0] == 0 && seq[1] == 0 && seq[2] == 1 && seq[3] == 0 && seq[4] == 2 &&
                  seq[5] == 0 && seq[6] == 0,
              "%zu %zu %zu %zu %zu %zu %zu", seq[0], seq[1], seq[2], seq[3], seq[4], seq[5],
              seq[6]);
    count_picks(700, ALL(3), count);
    cr_assert(count[0] == 500 && count[1] == 100 && count[2] == 100, "%u %u %u", count[0], count[1],
              count[2]);
}

Test(proxy_balance, least_conn_prefers_the_idle_one_per_weight)
{
    static const unsigned w[] = {1, 1, 4};
    unsigned count[3] = {0};

    setup(PROXY_LEAST_CONN, 3, w);
    atomic_store(&shared.ups[0].active, 3);
    atomic_store(&shared.ups[1].active, 0);
    atomic_store(&shared.ups[2].active, 1);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(proxy_balance_pick(&bal, &conf, &shared, ALL(3), 0), 1, "the idle one");
    /* 4 active at weight 4 is as loaded as 1 at weight 1: those two share */
    atomic_store(&shared.ups[1].active, 1);
    atomic_store(&shared.ups[2].active, 4);
    count_picks(100, ALL(3), count);
    cr_assert(count[0] == 0 && count[1] > 0 && count[2] > 0, "%u %u %u", count[0], count[1],
              count[2]);
    /* equal load: round robin by weight among them */
    memset(count, 0, sizeof count);
    atomic_store(&shared.ups[0].active, 0);
    atomic_store(&shared.ups[1].active, 0);
    atomic_store(&shared.ups[2].active, 0);
    count_picks(600, ALL(3), count);
    cr_assert(count[0] == 100 && count[1] == 100 && count[2] == 400, "%u %u %u", count[0], count[1],
              count[2]);
}

Test(proxy_balance, random_two_follows_weights_and_avoids_the_busy_one)
{
    static const unsigned w[] = {1, 3};
    unsigned count[3] = {0};

    setup(PROXY_RANDOM_TWO, 2, w);
    /* two upstreams, equal load: the first draw wins ties, drawn 1:3 */
    count_picks(40000, ALL(2), count);
    cr_assert(count[0] > 8000 && count[0] < 12000, "%u %u", count[0], count[1]);
    setup(PROXY_RANDOM_TWO, 3, NULL);
    atomic_store(&shared.ups[1].active, 50);
    memset(count, 0, sizeof count);
    count_picks(30000, ALL(3), count);
    /* the busy one wins only when drawn twice, which two distinct draws never do */
    cr_assert_eq(count[1], 0, "%u %u %u", count[0], count[1], count[2]);
    cr_assert(count[0] > 12000 && count[2] > 12000, "%u %u %u", count[0], count[1], count[2]);
}

Test(proxy_balance, hash_is_stable_weighted_and_moves_only_the_removed_share)
{
    static const unsigned w[] = {1, 1, 2, 1};
    enum { KEYS = 20000 };
    static unsigned char before[KEYS];
    unsigned count[4] = {0}, moved = 0;

    setup(PROXY_HASH, 4, w);
    for (unsigned k = 0; k < KEYS; k++) {
        uint64_t key = (uint64_t)k * 0x9E3779B97F4A7C15u;

        before[k] = (unsigned char)proxy_balance_pick(&bal, &conf, &shared, ALL(4), key);
        cr_assert_eq(proxy_balance_pick(&bal, &conf, &shared, ALL(4), key), before[k],
                     "the same key goes to the same upstream");
        count[before[k]]++;
    }
    /* shares 1:1:2:1 of 20000: 4000, 4000, 8000, 4000 */
    for (int i = 0; i < 4; i++) {
        unsigned want = i == 2 ? 8000 : 4000;

        cr_assert(count[i] > want * 9 / 10 && count[i] < want * 11 / 10, "%d: %u", i, count[i]);
    }
    /* without upstream 1, only its keys move, spread over the others */
    for (unsigned k = 0; k < KEYS; k++) {
        uint64_t key = (uint64_t)k * 0x9E3779B97F4A7C15u;
        size_t now = proxy_balance_pick(&bal, &conf, &shared, ALL(4) & ~2u, key);

        if (before[k] != 1)
            cr_assert_eq(now, before[k], "key %u moved from %u to %zu", k, before[k], now);
        else
            moved++;
    }
    cr_assert_eq(moved, count[1]);
}

Test(proxy_health, max_fails_within_fail_timeout_takes_one_out_for_fail_timeout)
{
    setup(PROXY_ROUND_ROBIN, 2, NULL);
    conf.max_fails = 2;
    conf.fail_timeout_ms = 1000;
    cr_assert_eq(proxy_health_up(&shared, &conf, 5000), 3u);
    cr_assert_not(proxy_health_fail(&shared, 0, &conf, 5000));
    /* the second failure comes after the window: it starts a new one */
    cr_assert_not(proxy_health_fail(&shared, 0, &conf, 6500));
    cr_assert_eq(proxy_health_up(&shared, &conf, 6500), 3u);
    cr_assert(proxy_health_fail(&shared, 0, &conf, 7000), "two within 1 s");
    cr_assert_eq(proxy_health_up(&shared, &conf, 7000), 2u, "out");
    cr_assert_eq(proxy_health_up(&shared, &conf, 7999), 2u, "still out");
    cr_assert_eq(proxy_health_up(&shared, &conf, 8000), 3u, "back after fail_timeout");
    cr_assert_eq(atomic_load(&shared.ups[0].failures), 3);
}

Test(proxy_health, max_fails_0_never_takes_one_out)
{
    setup(PROXY_ROUND_ROBIN, 1, NULL);
    conf.max_fails = 0;
    for (int i = 0; i < 10; i++)
        cr_assert_not(proxy_health_fail(&shared, 0, &conf, 1000));
    cr_assert_eq(proxy_health_up(&shared, &conf, 1000), 1u);
}
