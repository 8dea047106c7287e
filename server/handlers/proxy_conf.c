/* proxy_conf.c - the keys of a [proxy MATCH] section: upstream addresses, balancing, timeouts. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "handlers/proxy_internal.h"

/* "unix:/path" into u; false when the path is empty, relative or too long. */
static bool addr_unix(const char *path, struct proxy_upstream *u)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&u->addr;

    if (path[0] != '/' || strlen(path) >= sizeof sun->sun_path)
        return false;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, strlen(path) + 1);
    u->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    return true;
}

/* "HOST:PORT" or "[V6]:PORT" into u (a host name is resolved now, the first
 * address it has). Returns NULL or why not. */
static const char *addr_inet(const char *text, struct proxy_upstream *u)
{
    char host[PROXY_ADDR_TEXT];
    const char *colon = strrchr(text, ':'), *h = text;
    size_t hlen;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char *end;
    long port;

    if (!colon || colon == text)
        return "is not HOST:PORT, [V6]:PORT or unix:/path";
    hlen = (size_t)(colon - text);
    if (text[0] == '[') {
        if (hlen < 3 || text[hlen - 1] != ']')
            return "has a malformed [IPv6] address";
        h = text + 1;
        hlen -= 2;
        hints.ai_flags = AI_NUMERICHOST;
        hints.ai_family = AF_INET6;
    } else if (memchr(text, ':', hlen)) {
        return "needs brackets around an IPv6 address ([::1]:8080)";
    }
    port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || port < 1 || port > 65535)
        return "has no valid port (1 to 65535)";
    snprintf(host, sizeof host, "%.*s", (int)hlen, h);
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return "names a host that cannot be resolved";
    memcpy(&u->addr, res->ai_addr, res->ai_addrlen);
    u->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return NULL;
}

/* One ADDR[*WEIGHT] word. */
static int upstream_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct proxy_conf *c = obj;
    struct proxy_upstream *u;
    char text[PROXY_ADDR_TEXT + 16], *star, *end;
    const char *why = NULL;
    long weight = 1;

    if (len >= PROXY_ADDR_TEXT) {
        conf_error(io, "upstream '%.*s' is too long", (int)len, w);
        return -1;
    }
    snprintf(text, sizeof text, "%.*s", (int)len, w);
    if (strncmp(text, "weight=", 7) == 0 && c->n_upstreams > 0) {
        /* "ADDR weight=N": the weight of the address before it */
        weight = strtol(text + 7, &end, 10);
        if (text[7] < '0' || text[7] > '9' || *end || weight < 1 || weight > 1000) {
            conf_error(io, "upstream weight '%s' must be a number from 1 to 1000", text + 7);
            return -1;
        }
        c->upstreams[c->n_upstreams - 1].weight = (unsigned)weight;
        return 0;
    }
    if (c->n_upstreams == PROXY_MAX_UPSTREAMS) {
        conf_error(io, "too many upstreams (at most %d per route)", PROXY_MAX_UPSTREAMS);
        return -1;
    }
    star = strchr(text, '*');
    if (star) {
        weight = strtol(star + 1, &end, 10);
        if (star[1] < '0' || star[1] > '9' || *end || weight < 1 || weight > 1000) {
            conf_error(io, "upstream weight in '%s' must be a number from 1 to 1000", text);
            return -1;
        }
        *star = '\0';
    }
    u = &c->upstreams[c->n_upstreams];
    *u = (struct proxy_upstream){.weight = (unsigned)weight};
    if (strncmp(text, "unix:", 5) == 0)
        why = addr_unix(text + 5, u) ? NULL : "needs an absolute socket path (unix:/run/app.sock)";
    else
        why = addr_inet(text, u);
    if (why) {
        conf_error(io, "upstream '%s' %s", text, why);
        return -1;
    }
    memcpy(u->text, text, strlen(text) + 1);
    c->n_upstreams++;
    return 0;
}

static void parse_upstream(struct conf_io *io, const struct key_spec *key, void *obj,
                           const char *value)
{
    if (!*value) {
        conf_error(io, "'%s' needs a value (HOST:PORT, [V6]:PORT or unix:/path)", key->name);
        return;
    }
    conf_for_each_word(io, value, obj, upstream_word);
}

static void dump_upstreams(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct proxy_conf *c = obj;

    for (size_t i = 0; i < c->n_upstreams; i++) {
        const struct proxy_upstream *u = &c->upstreams[i];

        if (u->weight == 1)
            fprintf(out, "%s = %s\n", key->name, u->text);
        else
            fprintf(out, "%s = %s*%u\n", key->name, u->text, u->weight);
    }
}

static const struct enum_name balance_names[] = {
    {.name = "round_robin", .value = PROXY_ROUND_ROBIN},
    {.name = "least_conn", .value = PROXY_LEAST_CONN},
    {.name = "random_two", .value = PROXY_RANDOM_TWO},
    {.name = "hash", .value = PROXY_HASH},
    {.name = NULL},
};

/* hash_key = client | header:NAME */
static void parse_hash_key(struct conf_io *io, const struct key_spec *key, void *obj,
                           const char *value)
{
    struct proxy_conf *c = obj;
    const char *name = value + 7;
    size_t len;

    if (strcmp(value, "client") == 0) {
        c->hash_header[0] = '\0';
        return;
    }
    len = strlen(name);
    if (strncmp(value, "header:", 7) != 0 || len == 0 || len >= sizeof c->hash_header ||
        strspn(name, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != len) {
        conf_error(io, "'%s' must be client or header:NAME (a header name under %zu bytes)",
                   key->name, sizeof c->hash_header);
        return;
    }
    memcpy(c->hash_header, name, len + 1);
}

static void dump_hash_key(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct proxy_conf *c = obj;

    if (c->hash_header[0])
        fprintf(out, "%s = header:%s\n", key->name, c->hash_header);
    else
        fprintf(out, "%s = client\n", key->name);
}

/* health_uri = /PATH[?QUERY]: sent as it is, so no space or control byte. */
static void parse_health_uri(struct conf_io *io, const struct key_spec *key, void *obj,
                             const char *value)
{
    struct proxy_conf *c = obj;
    size_t len = strlen(value);

    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)value[i] <= ' ' || value[i] == 0x7f)
            len = 0;
    }
    if (!*value) {
        c->health_uri[0] = '\0';
        return;
    }
    if (value[0] != '/' || len == 0 || len >= sizeof c->health_uri) {
        conf_error(io, "'%s' must be a path starting with / (no spaces, under %zu bytes)",
                   key->name, sizeof c->health_uri);
        return;
    }
    memcpy(c->health_uri, value, len + 1);
}

static void dump_health_uri(FILE *out, const struct key_spec *key, const void *obj)
{
    fprintf(out, "%s = %s\n", key->name, ((const struct proxy_conf *)obj)->health_uri);
}

static const struct key_spec proxy_keys[] = {
    {.name = "upstream",
     .type = VT_CUSTOM,
     .repeatable = true,
     .required = true,
     .parse = parse_upstream,
     .dump = dump_upstreams},
    {.name = "balance",
     .type = VT_ENUM,
     .offset = offsetof(struct proxy_conf, balance),
     .width = sizeof(enum proxy_balance),
     .names = balance_names},
    {.name = "keepalive",
     .type = VT_NUMBER,
     .offset = offsetof(struct proxy_conf, keepalive),
     .width = sizeof(unsigned),
     .min = 0,
     .max = 10000},
    {.name = "keepalive_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, keepalive_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = UINT64_C(86400000)},
    {.name = "connect_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, connect_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = UINT64_C(86400000)},
    {.name = "read_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, read_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = UINT64_C(86400000)},
    {.name = "send_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, send_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = UINT64_C(86400000)},
    {.name = "preserve_host",
     .type = VT_BOOL,
     .offset = offsetof(struct proxy_conf, preserve_host),
     .width = sizeof(bool)},
    {.name = "strip_prefix",
     .type = VT_BOOL,
     .offset = offsetof(struct proxy_conf, strip_prefix),
     .width = sizeof(bool)},
    {.name = "hash_key", .type = VT_CUSTOM, .parse = parse_hash_key, .dump = dump_hash_key},
    {.name = "max_fails",
     .type = VT_NUMBER,
     .offset = offsetof(struct proxy_conf, max_fails),
     .width = sizeof(unsigned),
     .min = 0,
     .max = 1000},
    {.name = "fail_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, fail_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = UINT64_C(86400000)},
    {.name = "retries",
     .type = VT_NUMBER,
     .offset = offsetof(struct proxy_conf, retries),
     .width = sizeof(unsigned),
     .min = 0,
     .max = PROXY_MAX_UPSTREAMS},
    {.name = "retry_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, retry_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 0,
     .max = UINT64_C(86400000)},
    {.name = "max_conns",
     .type = VT_NUMBER,
     .offset = offsetof(struct proxy_conf, max_conns),
     .width = sizeof(unsigned),
     .min = 0,
     .max = 1000000},
    {.name = "queue_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, queue_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = UINT64_C(86400000)},
    {.name = "health_uri", .type = VT_CUSTOM, .parse = parse_health_uri, .dump = dump_health_uri},
    {.name = "health_interval",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, health_interval_ms),
     .width = sizeof(uint64_t),
     .min = 10,
     .max = UINT64_C(86400000)},
    {.name = "health_passes",
     .type = VT_NUMBER,
     .offset = offsetof(struct proxy_conf, health_passes),
     .width = sizeof(unsigned),
     .min = 1,
     .max = 100},
    {.name = "health_fails",
     .type = VT_NUMBER,
     .offset = offsetof(struct proxy_conf, health_fails),
     .width = sizeof(unsigned),
     .min = 1,
     .max = 100},
    {.name = "tunnel_idle_timeout",
     .type = VT_DURATION,
     .offset = offsetof(struct proxy_conf, tunnel_idle_timeout_ms),
     .width = sizeof(uint64_t),
     .min = 1,
     .max = UINT64_C(86400000)},
    {.name = "compress",
     .type = VT_BOOL,
     .offset = offsetof(struct proxy_conf, compress),
     .width = sizeof(bool)},
};

const struct section_spec proxy_schema = {.keys = proxy_keys,
                                          .n_keys = sizeof proxy_keys / sizeof proxy_keys[0]};
_Static_assert(sizeof proxy_keys / sizeof proxy_keys[0] <= SECTION_MAX_KEYS, "proxy keys");

void proxy_conf_defaults(void *conf)
{
    struct proxy_conf *c = conf;

    memset(c, 0, sizeof *c);
    c->balance = PROXY_ROUND_ROBIN;
    c->keepalive = 32;
    c->keepalive_timeout_ms = 4000;
    c->connect_timeout_ms = 5000;
    c->read_timeout_ms = 60000;
    c->send_timeout_ms = 60000;
    c->max_fails = 1;
    c->fail_timeout_ms = 10000;
    c->retries = 1;
    c->queue_timeout_ms = 5000;
    c->health_interval_ms = 5000;
    c->health_passes = 1;
    c->health_fails = 1;
    c->tunnel_idle_timeout_ms = 300000;
}
