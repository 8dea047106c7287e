/* server.c - a worker's HTTP engine: connections in, working memory pool, counters. */
#include "http/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "http/conn.h"

/* Released working memory kept per worker for the next busy connection. */
#define MEM_POOL_KEEP 256

static size_t mem_size_for(const struct http_site *site)
{
    size_t rcap = site->limits.max_header_size + 4096;

    if (rcap < 16384)
        rcap = 16384;
    return sizeof(struct conn_mem) + 2 * rcap + CONN_OBUF_SIZE;
}

struct conn_mem *conn_mem_get(struct http_server *srv)
{
    struct conn_mem *m = srv->free_mem;
    size_t rcap = (srv->mem_size - sizeof(struct conn_mem) - CONN_OBUF_SIZE) / 2;

    if (m) {
        srv->free_mem = m->next_free;
        srv->nfree_mem--;
    } else {
        m = malloc(srv->mem_size);
        if (!m)
            return NULL;
    }
    m->next_free = NULL;
    m->block_size = srv->mem_size;
    m->rcap = rcap;
    m->rbuf = m->space;
    m->pathbuf = m->space + rcap;
    m->obuf = m->space + 2 * rcap;
    m->rstart = m->rlen = m->bpos = m->olen = 0;
    m->sent = m->head_ns = 0;
    m->broken = false;
    m->ncleanups = 0;
    m->taken_over = false;
    http_parser_init(&m->parser, &srv->site->limits);
    return m;
}

void conn_mem_put(struct http_server *srv, struct conn_mem *m)
{
    if (!m)
        return;
    if (srv->nfree_mem >= MEM_POOL_KEEP || m->block_size != srv->mem_size) {
        free(m);
        return;
    }
    m->next_free = srv->free_mem;
    srv->free_mem = m;
    srv->nfree_mem++;
}

/* Frees every pooled block; returns the bytes freed. */
static size_t mem_pool_clear(struct http_server *srv)
{
    size_t bytes = 0;

    while (srv->free_mem) {
        struct conn_mem *m = srv->free_mem;

        srv->free_mem = m->next_free;
        bytes += m->block_size;
        free(m);
    }
    srv->nfree_mem = 0;
    return bytes;
}

size_t http_server_release_memory(struct http_server *srv) { return mem_pool_clear(srv); }

struct http_server *http_server_new(struct loop *loop, const struct http_site *site,
                                    struct access_log *access_log)
{
    struct http_server *srv = calloc(1, sizeof *srv);

    if (!srv)
        return NULL;
    srv->loop = loop;
    srv->access_log = access_log;
    http_server_set_site(srv, site);
    return srv;
}

void http_server_free(struct http_server *srv)
{
    if (!srv)
        return;
    while (srv->conns) /* idle ones: busy ones went with their coroutines */
        conn_close(srv->conns);
    mem_pool_clear(srv);
    if (srv->site && srv->site->release)
        srv->site->release(srv->site);
    free(srv);
}

void http_server_set_site(struct http_server *srv, const struct http_site *site)
{
    size_t size = mem_size_for(site);

    if (site->hold)
        site->hold(site);
    if (srv->site && srv->site->release)
        srv->site->release(srv->site);
    srv->site = site;
    if (size != srv->mem_size) {
        /* Buffers sized for the old limits: new ones from now on. Blocks in
         * use are freed by conn_mem_put when they come back. */
        mem_pool_clear(srv);
        srv->mem_size = size;
    }
}

static void conn_on_event(struct loop_watch *w, uint32_t events)
{
    struct conn *c = (struct conn *)w;

    if (c->co)
        return; /* its coroutine will see the edge in w->ready */
    if (events & (LOOP_READ | LOOP_HUP))
        conn_wake(c);
}

int http_server_accept(struct http_server *srv, int fd, const struct sockaddr *peer,
                       socklen_t peer_len, const struct sockaddr *local, socklen_t local_len)
{
    struct conn *c = calloc(1, sizeof *c);

    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->w = (struct loop_watch){.fd = fd, .on_event = conn_on_event};
    c->srv = srv;
    if (peer_len > sizeof c->peer)
        peer_len = sizeof c->peer;
    if (local_len > sizeof c->local)
        local_len = sizeof c->local;
    memcpy(&c->peer, peer, peer_len);
    c->peer_len = peer_len;
    if (local)
        memcpy(&c->local, local, local_len);
    c->local_len = local ? local_len : 0;
    loop_watch_add_lazy(srv->loop, &c->w);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    http_stat_add(&srv->stats.connections_total, 1);
    http_stat_add(&srv->stats.connections_open, 1);
    conn_wake(c);
    return 0;
}

void conn_close(struct conn *c)
{
    struct http_server *srv = c->srv;

    conn_set_state(c, CONN_IDLE);
    timer_cancel(loop_timers(srv->loop), &c->idle_timer);
    loop_watch_close(&c->w);
    conn_mem_put(srv, c->mem);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    http_stat_add(&srv->stats.connections_open, (uint64_t)-1);
    free(c);
    if (srv->on_close)
        srv->on_close(srv->on_close_arg);
}

void http_server_drain(struct http_server *srv)
{
    struct conn *c = srv->conns;

    srv->draining = true;
    while (c) {
        struct conn *next = c->next;

        if (!c->co)
            conn_close(c);
        c = next;
    }
}

size_t http_server_connections(const struct http_server *srv) { return srv->nconns; }

void http_server_on_close(struct http_server *srv, void (*fn)(void *arg), void *arg)
{
    srv->on_close = fn;
    srv->on_close_arg = arg;
}

const struct http_stats *http_server_stats(const struct http_server *srv) { return &srv->stats; }

const uint64_t http_duration_bounds_us[HTTP_DURATION_BUCKETS - 1] = {
    100,   250,    500,    1000,   2500,    5000,    10000,    25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};

static uint64_t stat_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void http_stats_read(const struct http_stats *st, struct http_view_worker *out)
{
    out->http.connections_total = stat_get(&st->connections_total);
    out->http.connections_open = stat_get(&st->connections_open);
    out->http.requests = stat_get(&st->requests);
    for (size_t i = 0; i < 6; i++)
        out->http.status_class[i] = stat_get(&st->status_class[i]);
    out->http.bytes_out = stat_get(&st->bytes_out);
    out->http.bytes_in = stat_get(&st->bytes_in);
    out->http.conns_reading = stat_get(&st->conns_reading);
    out->http.conns_writing = stat_get(&st->conns_writing);
    for (size_t i = 0; i < HTTP_DURATION_BUCKETS; i++)
        out->http.duration[i] = stat_get(&st->duration[i]);
    out->http.duration_sum_us = stat_get(&st->duration_sum_us);
    out->http.file_cache_hits = stat_get(&st->file_cache_hits);
    out->http.file_cache_misses = stat_get(&st->file_cache_misses);
    out->http.scripts_running = stat_get(&st->scripts_running);
    out->http.scripts_killed_timeout = stat_get(&st->scripts_killed_timeout);
    out->http.scripts_killed_gone = stat_get(&st->scripts_killed_gone);
}

void http_view_free(struct http_view *v)
{
    free(v->workers);
    free(v->routes);
    *v = (struct http_view){0};
}
