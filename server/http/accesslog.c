/* accesslog.c - the access log: combined or JSON lines, buffered per worker. */
#include "http/accesslog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/timer.h"
#include "http/client.h"
#include "http/exchange.h"

#define LOG_BUF_SIZE (64 * 1024)
#define LOG_LINE_MAX 8192
#define LOG_FLUSH_MS 1000

struct access_log {
    struct loop *loop;
    int fd;
    enum http_log_format format;
    struct timer flush_timer;
    int64_t stamp_second; /* the second stamp shows */
    char stamp[40];
    size_t len;
    char buf[LOG_BUF_SIZE];
};

static void flush_due(struct timer *t)
{
    access_log_flush((struct access_log *)((char *)t - offsetof(struct access_log, flush_timer)));
}

struct access_log *access_log_new(struct loop *loop, int fd, enum http_log_format format)
{
    struct access_log *log = malloc(sizeof *log);

    if (!log)
        return NULL;
    log->loop = loop;
    log->fd = fd;
    log->format = format;
    log->len = 0;
    log->stamp_second = -1;
    timer_init(&log->flush_timer, flush_due);
    return log;
}

void access_log_flush(struct access_log *log)
{
    size_t off = 0;

    timer_cancel(loop_timers(log->loop), &log->flush_timer);
    while (off < log->len) {
        ssize_t n = write(log->fd, log->buf + off, log->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the log is unwritable: drop rather than stall serving */
        off += (size_t)n;
    }
    log->len = 0;
}

void access_log_free(struct access_log *log)
{
    if (!log)
        return;
    access_log_flush(log);
    free(log);
}

void access_log_set_fd(struct access_log *log, int fd)
{
    access_log_flush(log);
    log->fd = fd;
}

static const char *stamp(struct access_log *log)
{
    int64_t now = loop_wall(log->loop);

    if (now != log->stamp_second) {
        time_t t = (time_t)now;
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(log->stamp, sizeof log->stamp,
                 log->format == HTTP_LOG_JSON ? "%Y-%m-%dT%H:%M:%S%z" : "%d/%b/%Y:%H:%M:%S %z",
                 &tm);
        log->stamp_second = now;
    }
    return log->stamp;
}

/* The length of the well-formed UTF-8 sequence of two to four bytes at s
 * (RFC 3629: no overlong form, no surrogate, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    unsigned char lo = 0x80, hi = 0xbf; /* the bounds of the second byte */

    if (s[0] < 0xc2 || s[0] > 0xf4 || len < n)
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/*
 * Appends s escaped for a quoted log field: \" and \\, control bytes as
 * \xHH (combined) or \u00HH (JSON). Bytes from 0x80 up are \xHH in the
 * combined format, as nginx writes them; JSON keeps well-formed UTF-8 as it
 * is (readable, and valid JSON) and writes any other byte as the text \xHH
 * (an escaped backslash, then xHH). Stops before overflowing cap.
 */
static size_t esc(char *out, size_t cap, const char *s, size_t len, bool json)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;

    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char ch = u[i];
        size_t seq = json && ch >= 0x80 ? utf8_seq(u + i, len - i) : 0;

        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (seq > 0) {
            memcpy(out + n, s + i, seq);
            n += seq;
            i += seq - 1;
        } else if (json && (ch < 0x20 || ch == 0x7f)) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        } else if (ch < 0x20 || ch >= 0x7f) {
            if (json)
                out[n++] = '\\';
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        } else {
            out[n++] = (char)ch;
        }
    }
    return n;
}

static size_t field(char *out, size_t cap, const struct http_exchange *x, enum http_field name,
                    bool json)
{
    size_t len = 0;
    const char *v = x->req ? http_req_field(x, name, &len) : NULL;

    if (!v)
        return json ? 0 : (size_t)snprintf(out, cap, "-");
    return esc(out, cap, v, len, json);
}

/* The fields after the standard ones, each escaped for the format. */
struct log_extra {
    char host[512], route[256], upstream[512];
    unsigned long long duration_us, bytes_in;
};

static void extra_fields(const struct http_exchange *x, bool json, struct log_extra *e)
{
    size_t n = x->route ? esc(e->route, sizeof e->route - 1, x->route, x->route_len, json) : 0;

    if (!x->route && !json)
        n = (size_t)snprintf(e->route, sizeof e->route, "-");
    e->route[n] = '\0';
    e->host[field(e->host, sizeof e->host - 1, x, HTTP_F_HOST, json)] = '\0';
    n = x->upstream
            ? esc(e->upstream, sizeof e->upstream - 1, x->upstream, strlen(x->upstream), json)
            : 0;
    e->upstream[n] = '\0';
    e->duration_us = x->duration_us;
    e->bytes_in = x->bytes_in;
}

/* The JSON fields of an upstream or script, when the handler named one. */
static void upstream_json(const struct http_exchange *x, const struct log_extra *e, char *out,
                          size_t cap)
{
    out[0] = '\0';
    if (x->upstream && x->upstream_us >= 0)
        snprintf(out, cap, ",\"upstream\":\"%s\",\"upstream_time_us\":%lld", e->upstream,
                 (long long)x->upstream_us);
    else if (x->upstream)
        snprintf(out, cap, ",\"upstream\":\"%s\"", e->upstream);
}

/*
 * Combined: the nginx/Apache "combined" fields, then the Host, the
 * duration in microseconds, the bytes received and the route:
 *   ADDR - - [TIME] "REQUEST" STATUS BYTES_SENT "REFERER" "UA" "HOST" US IN "ROUTE"
 * JSON: one object with the same fields by name, plus the upstream.
 */
void access_log_record(struct access_log *log, const struct http_exchange *x)
{
    char line[LOG_LINE_MAX], peer[64], req[2048], ref[1024], ua[1024], up[600];
    const struct http_request *r = x->req;
    bool json = log->format == HTTP_LOG_JSON;
    unsigned long long bytes = (unsigned long long)http_resp_body_sent(x);
    struct log_extra e;
    size_t n = 0;
    int w;

    http_addr_text(x->client ? x->client : x->peer, peer, sizeof peer);
    if (r) {
        /* A long target is cut so that the version always fits. */
        n = esc(req, sizeof req - 16, r->method_name.p, r->method_name.len, json);
        req[n++] = ' ';
        n += esc(req + n, sizeof req - 16 - n, r->target.p, r->target.len, json);
        snprintf(req + n, sizeof req - n, " HTTP/%u.%u", r->version_major, r->version_minor);
    } else {
        snprintf(req, sizeof req, "-");
    }
    ref[field(ref, sizeof ref - 1, x, HTTP_F_REFERER, json)] = '\0';
    ua[field(ua, sizeof ua - 1, x, HTTP_F_USER_AGENT, json)] = '\0';
    extra_fields(x, json, &e);
    upstream_json(x, &e, up, sizeof up);
    if (json)
        w = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"remote_addr\":\"%s\",\"request\":\"%s\",\"status\":%d,"
                     "\"body_bytes\":%llu,\"referer\":\"%s\",\"user_agent\":\"%s\",\"host\":\"%s\","
                     "\"duration_us\":%llu,\"bytes_in\":%llu,\"route\":\"%s\"%s}\n",
                     stamp(log), peer, req, x->status, bytes, ref, ua, e.host, e.duration_us,
                     e.bytes_in, e.route, up);
    else
        w = snprintf(line, sizeof line,
                     "%s - - [%s] \"%s\" %d %llu \"%s\" \"%s\" \"%s\" %llu %llu \"%s\"\n", peer,
                     stamp(log), req, x->status, bytes, ref, ua, e.host, e.duration_us, e.bytes_in,
                     e.route);
    if (w < 0)
        return;
    if ((size_t)w >= sizeof line)
        w = (int)sizeof line - 1, line[w - 1] = '\n';
    if (LOG_BUF_SIZE - log->len < (size_t)w)
        access_log_flush(log);
    memcpy(log->buf + log->len, line, (size_t)w);
    log->len += (size_t)w;
    if (!timer_armed(&log->flush_timer))
        timer_arm(loop_timers(log->loop), &log->flush_timer, loop_now(log->loop) + LOG_FLUSH_MS);
}
