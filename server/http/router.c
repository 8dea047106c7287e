/* router.c - the route table: host groups, longest whole-segment prefix, fallback. */
#include "http/router.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* DNS names are at most 253 characters; patterns longer than that are refused. */
#define ROUTER_HOST_MAX 253

/* The routes that share one host pattern, longest prefix first. */
struct router_group {
    char *host; /* lowercase, no trailing dot; for a wildcard the suffix ".example.com" */
    size_t host_len;
    size_t first; /* slice of router->order */
    size_t count;
};

struct router {
    struct route *routes; /* copies, in the order given */
    size_t n_routes;
    const struct route **order; /* grouped: exact hosts, wildcards, any; longest prefix first */
    struct router_group *exact; /* sorted by host (bytewise) for binary search */
    size_t n_exact;
    struct router_group *wild; /* sorted by suffix length, longest first */
    size_t n_wild;
    struct router_group any;
};

static char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Length of a prefix without its trailing '/' ("/" -> 0, "/a/" -> 2). */
static size_t prefix_match_len(const char *prefix)
{
    size_t len = strlen(prefix);

    while (len > 0 && prefix[len - 1] == '/')
        len--;
    return len;
}

/* Length of a host pattern as compared: without a trailing dot. */
static size_t host_pattern_len(const char *host)
{
    size_t len = host ? strlen(host) : 0;

    if (len > 0 && host[len - 1] == '.')
        len--;
    return len;
}

static bool host_char_ok(char c)
{
    c = ascii_lower(c);
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* A name: allowed characters, no empty label. */
static bool host_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > ROUTER_HOST_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!host_char_ok(name[i]) || (name[i] == '.' && i + 1 < len && name[i + 1] == '.'))
            return false;
    }
    return true;
}

static bool route_valid(const struct route *r)
{
    size_t len = host_pattern_len(r->host);

    if (!r->prefix || r->prefix[0] != '/')
        return false;
    if (len == 0)
        return true;
    if (r->host[0] == '*')
        return len > 2 && r->host[1] == '.' && host_name_ok(r->host + 2, len - 2);
    return host_name_ok(r->host, len);
}

bool router_same_match(const struct route *a, const struct route *b)
{
    size_t ha = host_pattern_len(a->host), hb = host_pattern_len(b->host);
    size_t pa = prefix_match_len(a->prefix), pb = prefix_match_len(b->prefix);

    if (ha != hb || pa != pb || memcmp(a->prefix, b->prefix, pa) != 0)
        return false;
    for (size_t i = 0; i < ha; i++) {
        if (ascii_lower(a->host[i]) != ascii_lower(b->host[i]))
            return false;
    }
    return true;
}

/* Compares a request host (any case) with a lowercase pattern, bytewise. */
static int host_cmp(const char *host, size_t host_len, const char *lower, size_t lower_len)
{
    size_t n = host_len < lower_len ? host_len : lower_len;

    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)ascii_lower(host[i]), b = (unsigned char)lower[i];
        if (a != b)
            return a < b ? -1 : 1;
    }
    if (host_len == lower_len)
        return 0;
    return host_len < lower_len ? -1 : 1;
}

/* A route's place while the router is built: its host class and lowercase key. */
struct router_entry {
    const struct route *route;
    int class; /* 0 exact host, 1 wildcard, 2 any host */
    char *key; /* "example.com", ".example.com" (wildcard suffix), NULL */
    size_t key_len;
};

/* Whether two entries are in the same host group. */
static int entry_cmp_key(const struct router_entry *a, const struct router_entry *b)
{
    if (a->class != b->class)
        return a->class < b->class ? -1 : 1;
    return a->class == 2 ? 0 : host_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* Class, then key, then longest prefix first, then file order: each host group
 * is a run, and a scan of a run stops at the best match. */
static int entry_cmp(const void *a, const void *b)
{
    const struct router_entry *ea = a, *eb = b;
    int c = entry_cmp_key(ea, eb);

    if (c != 0)
        return c;
    if (ea->route->prefix_len != eb->route->prefix_len)
        return ea->route->prefix_len > eb->route->prefix_len ? -1 : 1;
    return ea->route < eb->route ? -1 : (ea->route > eb->route);
}

static int group_cmp_wild(const void *a, const void *b)
{
    const struct router_group *ga = a, *gb = b;

    if (ga->host_len != gb->host_len)
        return ga->host_len > gb->host_len ? -1 : 1;
    return host_cmp(ga->host, ga->host_len, gb->host, gb->host_len);
}

/* Fills e with the class and lowercase key of route's host pattern. */
static int entry_init(struct router_entry *e, const struct route *route)
{
    size_t plen = host_pattern_len(route->host);
    size_t skip = (plen && route->host[0] == '*') ? 1 : 0;

    *e = (struct router_entry){.route = route, .class = plen == 0 ? 2 : (int)skip};
    if (plen == 0)
        return 0;
    e->key_len = plen - skip;
    e->key = malloc(e->key_len + 1);
    if (!e->key)
        return -ENOMEM;
    for (size_t i = 0; i < e->key_len; i++)
        e->key[i] = ascii_lower(route->host[skip + i]);
    e->key[e->key_len] = '\0';
    return 0;
}

/* Turns the sorted entries into order[] and one group per run; the first
 * entry's key becomes the group's host, the others are freed. */
static void router_make_groups(struct router *r, struct router_entry *entries)
{
    struct router_group *g = NULL;

    for (size_t i = 0; i < r->n_routes; i++) {
        struct router_entry *e = &entries[i];

        r->order[i] = e->route;
        if (g && entry_cmp_key(&entries[g->first], e) == 0) {
            free(e->key);
            g->count++;
            continue;
        }
        if (e->class == 0)
            g = &r->exact[r->n_exact++];
        else if (e->class == 1)
            g = &r->wild[r->n_wild++];
        else
            g = &r->any;
        *g = (struct router_group){.host = e->key, .host_len = e->key_len, .first = i, .count = 1};
    }
    qsort(r->wild, r->n_wild, sizeof(*r->wild), group_cmp_wild);
}

static int router_check(const struct route *routes, size_t n, struct router_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!route_valid(&routes[i])) {
            if (err)
                *err = (struct router_error){.index = i, .other = i};
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (router_same_match(&routes[j], &routes[i])) {
                if (err)
                    *err = (struct router_error){.index = i, .other = j};
                return -EEXIST;
            }
        }
    }
    return 0;
}

static struct router *router_alloc(size_t n_routes)
{
    struct router *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->n_routes = n_routes;
    r->routes = calloc(n_routes + 1, sizeof(*r->routes));
    r->order = calloc(n_routes + 1, sizeof(*r->order));
    r->exact = calloc(n_routes + 1, sizeof(*r->exact));
    r->wild = calloc(n_routes + 1, sizeof(*r->wild));
    if (!r->routes || !r->order || !r->exact || !r->wild) {
        router_free(r);
        return NULL;
    }
    return r;
}

int router_new(struct router **out, const struct route *routes, size_t n_routes,
               struct router_error *err)
{
    struct router_entry *entries = NULL;
    struct router *r = NULL;
    size_t ready = 0;
    int rc = router_check(routes, n_routes, err);

    if (rc < 0)
        return rc;
    rc = -ENOMEM;
    r = router_alloc(n_routes);
    entries = calloc(n_routes + 1, sizeof(*entries));
    if (!r || !entries)
        goto fail;
    for (; ready < n_routes; ready++) {
        r->routes[ready] = routes[ready];
        r->routes[ready].prefix_len = prefix_match_len(routes[ready].prefix);
        if (entry_init(&entries[ready], &r->routes[ready]) < 0)
            goto fail;
    }
    qsort(entries, n_routes, sizeof(*entries), entry_cmp);
    router_make_groups(r, entries);
    free(entries);
    *out = r;
    return 0;
fail:
    for (size_t i = 0; entries && i < ready; i++)
        free(entries[i].key);
    free(entries);
    router_free(r);
    return rc;
}

void router_free(struct router *router)
{
    if (!router)
        return;
    for (size_t i = 0; i < router->n_exact; i++)
        free(router->exact[i].host);
    for (size_t i = 0; i < router->n_wild; i++)
        free(router->wild[i].host);
    free(router->exact);
    free(router->wild);
    free(router->order);
    free(router->routes);
    free(router);
}

size_t router_count(const struct router *router) { return router ? router->n_routes : 0; }

/* Whole segments: "/api" matches "/api" and "/api/x", not "/apix". */
static bool prefix_matches(const struct route *route, const char *path, size_t path_len)
{
    size_t plen = route->prefix_len;

    /* The root route's prefix is empty: nothing to compare. */
    if (plen > 0 && (path_len < plen || memcmp(path, route->prefix, plen) != 0))
        return false;
    return path_len == plen || path[plen] == '/';
}

static const struct route *group_match(const struct router *r, const struct router_group *g,
                                       const char *path, size_t path_len)
{
    for (size_t i = g->first; i < g->first + g->count; i++) {
        if (prefix_matches(r->order[i], path, path_len))
            return r->order[i];
    }
    return NULL;
}

/* The host part of a Host value: "[v6]:port" -> "[v6]", "name:port." -> "name". */
static size_t host_trim(const char *host, size_t len)
{
    const char *end;

    if (!host)
        return 0;
    end = memchr(host, host[0] == '[' ? ']' : ':', len);
    if (end)
        len = (size_t)(end - host) + (host[0] == '[' ? 1 : 0);
    if (len > 0 && host[len - 1] == '.')
        len--;
    return len;
}

static const struct router_group *exact_find(const struct router *r, const char *host, size_t len)
{
    size_t lo = 0, hi = r->n_exact;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = host_cmp(host, len, r->exact[mid].host, r->exact[mid].host_len);

        if (c == 0)
            return &r->exact[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct route *router_match(const struct router *router, const char *host, size_t host_len,
                                 const char *path, size_t path_len)
{
    const struct router_group *g;
    const struct route *found;

    if (router->n_exact == 0 && router->n_wild == 0)
        return group_match(router, &router->any, path, path_len);
    host_len = host_trim(host, host_len);
    if (host_len > 0) {
        g = exact_find(router, host, host_len);
        if (g && (found = group_match(router, g, path, path_len)))
            return found;
        for (size_t i = 0; i < router->n_wild; i++) {
            g = &router->wild[i];
            if (host_len > g->host_len &&
                host_cmp(host + host_len - g->host_len, g->host_len, g->host, g->host_len) == 0 &&
                (found = group_match(router, g, path, path_len)))
                return found;
        }
    }
    return group_match(router, &router->any, path, path_len);
}
