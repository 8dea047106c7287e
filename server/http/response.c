/* response.c - building and sending responses, and reading request bodies. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/io.h"
#include "http/conn.h"
#include "http/date.h"
#include "http/exchange.h"
#include "http/status.h"

/* Room kept for what the engine appends to every head (Date, Server,
 * length, Connection and the final CRLF). */
#define HEAD_TAIL_ROOM 256
/* Free queue space below which a new response flushes the queue first. */
#define HEAD_TYPICAL 2048

/* Bytes of a file given to one sendfile call. A slow reader that keeps
 * taking data is not cut off while a stalled one is, within send_timeout
 * of its last progress: the socket's account (conn_send_deadline) bounds
 * each wait, not the slice. */
#define SENDFILE_SLICE (512 * 1024)

static struct conn_mem *xmem(struct http_exchange *x) { return x->conn->mem; }

/* A write failed: what was sent is lost to the client, so the connection
 * can only be closed. Returns n (-errno). */
static int write_failed(struct http_exchange *x, ssize_t n)
{
    xmem(x)->broken = true;
    x->keep_alive = false;
    return (int)n;
}

/* Appends raw bytes to the output queue, flushing it when full. */
static int out_append(struct http_exchange *x, const void *data, size_t len)
{
    struct conn_mem *m = xmem(x);

    if (CONN_OBUF_SIZE - m->olen < len) {
        int r = conn_flush(x->conn, 0);

        if (r < 0)
            return r;
    }
    if (CONN_OBUF_SIZE - m->olen < len)
        return -ENOSPC;
    memcpy(m->obuf + m->olen, data, len);
    m->olen += len;
    return 0;
}

static int resp_open(struct http_exchange *x, int status);

int http_resp_begin(struct http_exchange *x, int status)
{
    if (x->state != HTTP_RESP_NONE)
        return -ENOSPC;
    return resp_open(x, status);
}

/* Before a response sent in one call: an unclaimed body is settled, and a
 * bad one replaces the head begun with its own answer. Returns 0, or
 * -EBADMSG when it did. */
static int settle_or_replace(struct http_exchange *x)
{
    int bad = http_body_settle(x);
    size_t len;
    const char *body;

    if (!bad)
        return 0;
    xmem(x)->olen = x->head_start;
    x->state = HTTP_RESP_NONE;
    x->keep_alive = false;
    body = http_status_body(bad, &len);
    if (resp_open(x, bad) == 0) {
        http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
        http_resp_body(x, body, len);
    }
    return -EBADMSG;
}

/* Appends n bytes of s at p; returns the end. The caller checked the room. */
static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

size_t http_u64_text(char *out, uint64_t v)
{
    size_t n = 1;

    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    for (size_t i = n; i-- > 0; v /= 10)
        out[i] = (char)('0' + v % 10);
    return n;
}

/* Writes "Content-Length: v\r\n" at out (40 bytes of room); returns its length. */
static size_t length_line(char *out, uint64_t v)
{
    size_t n = 16;

    memcpy(out, "Content-Length: ", 16);
    n += http_u64_text(out + n, v);
    memcpy(out + n, "\r\n", 2);
    return n + 2;
}

static int resp_open(struct http_exchange *x, int status)
{
    const char *reason = http_status_reason(status);

    return http_resp_open_reason(x, status, reason, strlen(reason));
}

/* Makes room for a head of at least need bytes (HEAD_TYPICAL, or more),
 * sending what is queued before it when it lacks that room. Returns 0 or
 * -errno, -ENOSPC when it still does not fit. */
static int head_open_room(struct http_exchange *x, size_t need)
{
    struct conn_mem *m = xmem(x);

    if (CONN_OBUF_SIZE - m->olen < HEAD_TYPICAL || CONN_OBUF_SIZE - m->olen < need) {
        int r = conn_flush(x->conn, 0);

        if (r < 0)
            return r;
    }
    return CONN_OBUF_SIZE - m->olen < need ? -ENOSPC : 0;
}

/* A head of status was opened at the end of the queue, its status line
 * status_len bytes long, and the queue now ends at end. */
static void head_opened(struct http_exchange *x, int status, size_t status_len, size_t end)
{
    struct conn_mem *m = xmem(x);

    x->head_start = m->olen;
    x->out_start = m->sent + m->olen;
    m->olen = end;
    x->lines_start = status_len;
    x->head_overflow = false;
    x->status = status;
    x->state = HTTP_RESP_HEAD;
}

int http_resp_open_reason(struct http_exchange *x, int status, const char *reason,
                          size_t reason_len)
{
    struct conn_mem *m = xmem(x);
    char *p;
    int r;

    if (status < 100 || status > 999)
        return -ENOSPC;
    r = head_open_room(x, reason_len + 16);
    if (r < 0)
        return r;
    p = put(m->obuf + m->olen, "HTTP/1.1 ", 9);
    *p++ = (char)('0' + status / 100);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = put(p, reason, reason_len);
    p = put(p, "\r\n", 2);
    head_opened(x, status, 9 + 4 + reason_len + 2, (size_t)(p - m->obuf));
    return 0;
}

/* Makes room for len more bytes of head: the responses queued before it
 * are sent if need be. Returns 0 or -errno, -ENOSPC when it cannot fit. */
static int head_room(struct http_exchange *x, size_t len)
{
    struct conn_mem *m = xmem(x);

    if (CONN_OBUF_SIZE - m->olen < len + HEAD_TAIL_ROOM && x->head_start > 0) {
        /* Send the responses queued before this head, keep the head. */
        int r = conn_flush_prefix(x->conn, x->head_start, 0);

        if (r < 0)
            return r;
        x->head_start = 0;
    }
    if (CONN_OBUF_SIZE - m->olen < len + HEAD_TAIL_ROOM) {
        x->head_overflow = true;
        return -ENOSPC;
    }
    return 0;
}

int http_resp_header_lines(struct http_exchange *x, const char *lines, size_t len)
{
    struct conn_mem *m = xmem(x);
    int r;

    if (x->state != HTTP_RESP_HEAD)
        return -EINVAL;
    r = head_room(x, len);
    if (r < 0)
        return r;
    memcpy(m->obuf + m->olen, lines, len);
    m->olen += len;
    return 0;
}

int http_resp_header(struct http_exchange *x, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    struct conn_mem *m = xmem(x);
    char *p;
    int r;

    if (x->state != HTTP_RESP_HEAD)
        return -EINVAL;
    r = head_room(x, name_len + value_len + 4);
    if (r < 0)
        return r;
    p = m->obuf + m->olen;
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, value_len);
    p += value_len;
    *p++ = '\r';
    *p++ = '\n';
    m->olen = (size_t)(p - m->obuf);
    return 0;
}

int http_resp_headerf(struct http_exchange *x, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof value)
        return -ENOSPC;
    return http_resp_header(x, name, strlen(name), value, (size_t)n);
}

/* Appends the Date and Server lines at p (room checked): the site's
 * prepared ones, else made here. Returns the end. */
static char *put_date_server(struct http_exchange *x, char *p, const char *server,
                             size_t server_len)
{
    struct http_head_lines *lines = x->site->head_lines;

    if (lines) {
        size_t len;
        const char *text = http_head_lines_at(lines, loop_wall(x->loop), &len);

        return put(p, text, len);
    }
    p = put(p, "Date: ", 6);
    p = put(p, conn_date(x->conn), HTTP_DATE_LEN);
    p = put(p, "\r\n", 2);
    if (server_len) {
        p = put(p, "Server: ", 8);
        p = put(p, server, server_len);
        p = put(p, "\r\n", 2);
    }
    return p;
}

/* The most bytes the engine's lines after the handler's take: Date and
 * Server, a length line of len_n bytes, Connection: close, the blank line. */
static size_t tail_need(const struct http_exchange *x, size_t len_n)
{
    const struct http_site *site = x->site;

    if (site->head_lines)
        return site->head_lines->len + len_n + 21;
    return 64 + (site->server_header ? strlen(site->server_header) : 0) + len_n + 21;
}

/* Ends the head: Date and Server, the length line len_line[0..len_n)
 * (none when len_n is 0), Connection: close when the connection ends, and
 * the blank line. Returns 0, or -ENOSPC when a header did not fit. */
static int head_end(struct http_exchange *x, const char *len_line, size_t len_n)
{
    struct conn_mem *m = xmem(x);
    const struct http_site *site = x->site;
    size_t server_len = site->head_lines || !site->server_header ? 0 : strlen(site->server_header);
    char *p = m->obuf + m->olen;

    if (x->conn->srv->draining)
        x->keep_alive = false;
    if (x->head_overflow || CONN_OBUF_SIZE - m->olen < tail_need(x, len_n))
        return -ENOSPC;
    p = put_date_server(x, p, site->server_header, server_len);
    p = put(p, len_line, len_n);
    if (!x->keep_alive && x->status != 101)
        p = put(p, "Connection: close\r\n", 19);
    p = put(p, "\r\n", 2);
    m->olen = (size_t)(p - m->obuf);
    x->head_len = m->olen - x->head_start;
    return 0;
}

/* Appends the engine's headers and the blank line. length < 0: chunked (or
 * close-delimited for HTTP/1.0); no_length: neither (1xx, 204, 304). */
static int head_finish(struct http_exchange *x, int64_t length, bool no_length)
{
    char line[48];
    size_t n = 0;
    int r;

    if (length < 0 && !no_length) {
        if (x->req->version_minor >= 1 && x->req->version_major == 1)
            x->chunked = true;
        else
            x->keep_alive = false;
    }
    if (!no_length && length >= 0)
        n = length_line(line, (uint64_t)length);
    else if (!no_length && x->chunked)
        n = (size_t)(put(line, "Transfer-Encoding: chunked\r\n", 28) - line);
    r = head_end(x, line, n);
    if (r < 0)
        return r;
    x->has_length = length >= 0 && !no_length;
    x->length = x->has_length ? (uint64_t)length : 0;
    return 0;
}

static bool status_has_no_body(int status)
{
    return status == 204 || status == 304 || (status >= 100 && status < 200);
}

/* Queues data behind what is queued when it fits; otherwise writes the
 * queue and data together in one writev. */
static int out_queue_or_write(struct http_exchange *x, const void *data, size_t len)
{
    struct conn_mem *m = xmem(x);
    struct iovec iov[2];
    ssize_t n;

    if (CONN_OBUF_SIZE - m->olen >= len) {
        memcpy(m->obuf + m->olen, data, len);
        m->olen += len;
        return 0;
    }
    iov[0] = (struct iovec){.iov_base = m->obuf, .iov_len = m->olen};
    iov[1] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
    n = co_writev(&x->conn->w, iov, 2, conn_send_deadline(x->conn));
    if (n < 0)
        return write_failed(x, n);
    conn_sent(x->conn, (uint64_t)n);
    m->olen = 0;
    return 0;
}

/* True when len more body bytes would go past the Content-Length sent. */
static bool past_length(const struct http_exchange *x, size_t len)
{
    return x->has_length && len > x->length - x->body_bytes;
}

/* What every streamed write checks first: -EINVAL outside a streamed
 * response, -EMSGSIZE past the length; 0 to go on. */
static int stream_check(const struct http_exchange *x, size_t len)
{
    if (x->state != HTTP_RESP_STREAMING)
        return -EINVAL;
    return past_length(x, len) ? -EMSGSIZE : 0;
}

int http_resp_body(struct http_exchange *x, const void *body, size_t len)
{
    bool nobody = status_has_no_body(x->status);
    int r;

    if (x->state != HTTP_RESP_HEAD)
        return -EINVAL;
    if ((r = settle_or_replace(x)) < 0)
        return r;
    r = head_finish(x, nobody ? -1 : (int64_t)len, nobody);
    if (r < 0)
        return r;
    x->state = HTTP_RESP_DONE;
    x->body_bytes = nobody ? 0 : len;
    if (x->head_only || nobody || len == 0)
        return 0;
    return out_queue_or_write(x, body, len);
}

int http_resp_sendfile(struct http_exchange *x, int fd, off_t offset, size_t len)
{
    int r;

    if (x->state != HTTP_RESP_HEAD)
        return -EINVAL;
    if ((r = settle_or_replace(x)) < 0)
        return r;
    r = head_finish(x, (int64_t)len, false);
    if (r < 0)
        return r;
    x->state = HTTP_RESP_DONE;
    x->body_bytes = len;
    if (x->head_only || len == 0)
        return 0;
    return http_resp_write_file(x, fd, offset, len);
}

int http_resp_prepare(const struct http_exchange *x, uint64_t length, struct http_prepared *p)
{
    const struct conn_mem *m = x->conn->mem;
    const struct http_head_lines *lines = x->site->head_lines;
    size_t lines_len = m->olen - x->head_start, date_len = lines ? lines->len : 0;
    char *bytes;

    if (x->state != HTTP_RESP_HEAD || x->head_overflow || status_has_no_body(x->status))
        return -EINVAL;
    bytes = malloc(lines_len + date_len + 42);
    if (!bytes)
        return -ENOMEM;
    memcpy(bytes, m->obuf + x->head_start, lines_len);
    *p = (struct http_prepared){
        .bytes = bytes,
        .lines_len = lines_len,
        .status_len = x->lines_start,
        .date_len = date_len,
        .length_len = length_line(bytes + lines_len + date_len, length),
        .status = x->status,
        .length = length,
    };
    memcpy(bytes + lines_len + date_len + p->length_len, "\r\n", 2);
    return 0;
}

void http_prepared_free(struct http_prepared *p)
{
    free(p->bytes);
    *p = (struct http_prepared){0};
}

/* For a response from p that head_end would end with the site's Date and
 * Server lines, the length line and the blank line alone (keep-alive, not
 * draining, no body to settle): brings the Date and Server lines kept in p
 * up to now and returns the length of the whole head p then holds; else
 * 0. Never yields. */
static size_t prepared_whole_head(struct http_exchange *x, struct http_prepared *p)
{
    struct http_head_lines *lines = x->site->head_lines;
    size_t len;
    const char *text;

    if (!lines || lines->len != p->date_len || !x->keep_alive || x->conn->srv->draining ||
        !xmem(x)->body_done)
        return 0;
    text = http_head_lines_at(lines, loop_wall(x->loop), &len);
    if (p->date_of != lines || p->date_second != lines->second) {
        memcpy(p->bytes + p->lines_len, text, len);
        p->date_of = lines;
        p->date_second = lines->second;
    }
    return p->lines_len + p->date_len + p->length_len + 2;
}

int http_resp_prepared(struct http_exchange *x, struct http_prepared *p, const void *body, int fd)
{
    struct conn_mem *m = xmem(x);
    size_t whole;
    int r;

    if (x->state != HTTP_RESP_NONE)
        return -ENOSPC;
    r = head_open_room(x, p->lines_len + tail_need(x, p->length_len));
    if (r < 0)
        return r;
    if ((whole = prepared_whole_head(x, p)) > 0) {
        memcpy(m->obuf + m->olen, p->bytes, whole);
        head_opened(x, p->status, p->status_len, m->olen + whole);
        x->head_len = whole;
    } else {
        memcpy(m->obuf + m->olen, p->bytes, p->lines_len);
        head_opened(x, p->status, p->status_len, m->olen + p->lines_len);
        if ((r = settle_or_replace(x)) < 0)
            return r;
        r = head_end(x, p->bytes + p->lines_len + p->date_len, p->length_len);
        if (r < 0)
            return r;
    }
    x->has_length = true;
    x->length = p->length;
    x->state = HTTP_RESP_DONE;
    x->body_bytes = p->length;
    if (x->head_only || p->length == 0)
        return 0;
    if (body)
        return out_queue_or_write(x, body, (size_t)p->length);
    return http_resp_write_file(x, fd, 0, (size_t)p->length);
}

int http_resp_stream(struct http_exchange *x, int64_t total)
{
    int r;

    if (x->state != HTTP_RESP_HEAD)
        return -EINVAL;
    r = head_finish(x, total, false);
    if (r < 0)
        return r;
    x->state = HTTP_RESP_STREAMING;
    return 0;
}

int http_resp_stream_raw(struct http_exchange *x, int64_t total)
{
    bool nobody = status_has_no_body(x->status);
    int r;

    if (!nobody || x->state != HTTP_RESP_HEAD)
        return http_resp_stream(x, total);
    r = head_finish(x, -1, true);
    if (r < 0)
        return r;
    /* No body may follow: whatever comes is counted, not sent. */
    x->head_only = true;
    x->has_length = true;
    x->length = 0;
    x->state = HTTP_RESP_STREAMING;
    return 0;
}

int http_resp_write(struct http_exchange *x, const void *data, size_t len)
{
    struct conn_mem *m = xmem(x);
    char size[24];
    int n = stream_check(x, len);

    if (n < 0 || len == 0)
        return n;
    x->body_bytes += len;
    if (x->head_only)
        return 0;
    if (!x->chunked)
        return out_queue_or_write(x, data, len);
    n = snprintf(size, sizeof size, "%zx\r\n", len);
    {
        struct iovec iov[4] = {
            {.iov_base = m->obuf, .iov_len = m->olen},
            {.iov_base = size, .iov_len = (size_t)n},
            {.iov_base = (void *)data, .iov_len = len},
            {.iov_base = (void *)"\r\n", .iov_len = 2},
        };
        ssize_t w = co_writev(&x->conn->w, iov, 4, conn_send_deadline(x->conn));

        if (w < 0)
            return write_failed(x, w);
        conn_sent(x->conn, (uint64_t)w);
        m->olen = 0;
    }
    return 0;
}

/* Writes the output queue and then iov[0..cnt) (cnt <= 3) in one call,
 * without waiting: returns the bytes of iov taken (0 when the socket took
 * the queue and nothing more), -EAGAIN when the queue is not empty yet or
 * nothing fits, or -errno (the connection is broken then). */
static ssize_t writev_behind_queue(struct http_exchange *x, const struct iovec *iov, int cnt)
{
    struct conn_mem *m = xmem(x);
    struct iovec all[4] = {{.iov_base = m->obuf, .iov_len = m->olen}};
    size_t queued = m->olen;
    ssize_t n;

    memcpy(all + 1, iov, (size_t)cnt * sizeof *iov);
    n = queued ? co_writev_nowait(&x->conn->w, all, cnt + 1)
               : co_writev_nowait(&x->conn->w, all + 1, cnt);
    if (n == -EAGAIN)
        return n;
    if (n < 0)
        return write_failed(x, n);
    conn_sent(x->conn, (uint64_t)n);
    if ((size_t)n < queued) {
        memmove(m->obuf, m->obuf + n, queued - (size_t)n);
        m->olen -= (size_t)n;
        return -EAGAIN;
    }
    m->olen = 0;
    return n - (ssize_t)queued;
}

static ssize_t write_plain_nowait(struct http_exchange *x, const void *data, size_t len)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    ssize_t n = writev_behind_queue(x, &iov, 1);

    if (n == 0)
        return -EAGAIN;
    if (n > 0)
        x->body_bytes += (size_t)n;
    return n;
}

/* Queues the bytes of iov[0..cnt) past the first sent ones (the queue is
 * empty and they fit). */
static void queue_unsent(struct conn_mem *m, const struct iovec *iov, int cnt, size_t sent)
{
    for (int i = 0; i < cnt; i++) {
        size_t skip = sent < iov[i].iov_len ? sent : iov[i].iov_len;

        memcpy(m->obuf + m->olen, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
        m->olen += iov[i].iov_len - skip;
        sent -= skip;
    }
}

/* One chunk of at most what the output queue holds: the socket takes what
 * it can, the rest of the chunk is queued. */
static ssize_t write_chunk_nowait(struct http_exchange *x, const void *data, size_t len)
{
    size_t take = len < CONN_OBUF_SIZE - 32 ? len : CONN_OBUF_SIZE - 32;
    char size[24];
    int hn = snprintf(size, sizeof size, "%zx\r\n", take);
    struct iovec iov[3] = {
        {.iov_base = size, .iov_len = (size_t)hn},
        {.iov_base = (void *)data, .iov_len = take},
        {.iov_base = (void *)"\r\n", .iov_len = 2},
    };
    ssize_t n = writev_behind_queue(x, iov, 3);

    if (n < 0)
        return n;
    queue_unsent(xmem(x), iov, 3, (size_t)n);
    x->body_bytes += take;
    return (ssize_t)take;
}

ssize_t http_resp_write_nowait(struct http_exchange *x, const void *data, size_t len)
{
    int r = stream_check(x, len);

    if (r < 0 || len == 0)
        return r;
    if (x->head_only) {
        x->body_bytes += len;
        return (ssize_t)len;
    }
    /* What is queued (the head, say) leaves in the same write. */
    return x->chunked ? write_chunk_nowait(x, data, len) : write_plain_nowait(x, data, len);
}

int http_resp_flush(struct http_exchange *x)
{
    int r;

    if (x->state == HTTP_RESP_HEAD)
        return -EINVAL;
    r = conn_flush(x->conn, 0);
    return r < 0 ? write_failed(x, r) : 0;
}

int http_resp_write_file(struct http_exchange *x, int fd, off_t offset, size_t len)
{
    struct conn_mem *m = xmem(x);
    ssize_t n;
    int r;

    if (x->state == HTTP_RESP_STREAMING && x->chunked)
        return -EINVAL; /* file bytes would go out without chunk framing */
    if (x->state == HTTP_RESP_STREAMING) {
        if (past_length(x, len))
            return -EMSGSIZE;
        x->body_bytes += len;
    }
    if (x->head_only)
        return 0;
    /* Small enough to queue: one write for head and body. */
    if (len <= CONN_OBUF_SIZE - m->olen && len <= 4096) {
        n = pread(fd, m->obuf + m->olen, len, offset);
        if (n == (ssize_t)len) {
            m->olen += len;
            return 0;
        }
    }
    r = conn_flush(x->conn, MSG_MORE);
    if (r < 0)
        return r;
    while (len > 0) {
        size_t slice = len > SENDFILE_SLICE ? SENDFILE_SLICE : len;
        off_t from = offset;

        n = co_sendfile(&x->conn->w, fd, &offset, slice, conn_send_deadline(x->conn));
        conn_sent(x->conn, (uint64_t)(offset - from)); /* what left, even on failure */
        if (n < 0)
            return write_failed(x, n);
        len -= slice;
    }
    return 0;
}

int http_resp_finish(struct http_exchange *x)
{
    if (x->state != HTTP_RESP_STREAMING)
        return -EINVAL;
    x->state = HTTP_RESP_DONE;
    if (x->chunked)
        return x->head_only ? 0 : out_append(x, "0\r\n\r\n", 5);
    if (!x->has_length)
        x->keep_alive = false; /* close-delimited: head_finish said close */
    if (x->has_length && x->body_bytes < x->length) {
        x->keep_alive = false; /* short: only a close can say so */
        return -EMSGSIZE;
    }
    return 0;
}

/* Statuses that say the request itself is unusable: the client may be out
 * of step with us, so the connection closes after the answer (as nginx
 * does). 404, 405, 412, 416 ... answer sound requests and keep it. */
static bool status_ends_connection(int status)
{
    switch (status) {
    case 400:
    case 408:
    case 411:
    case 413:
    case 414:
    case 431:
    case 501:
    case 505: return true;
    default: return false;
    }
}

int http_resp_error_page(struct http_exchange *x, int status, const char *name, const char *value)
{
    int r;

    if (status < 400 || !x->policy || !x->site->error_page || x->in_error_page ||
        x->state != HTTP_RESP_NONE)
        return -ENOENT;
    x->in_error_page = true;
    r = x->site->error_page(x, status, name, value);
    x->in_error_page = false;
    return r;
}

/* True when lines[0..len) are header lines, each ending in CRLF: no bare
 * CR or LF, no empty or continued line, no other control byte. */
static bool header_lines_ok(const char *lines, size_t len)
{
    bool line_start = true;

    if (len > 0 && (len < 2 || lines[len - 1] != '\n'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)lines[i];

        if (line_start && (ch == ' ' || ch == '\t' || ch == ':' || ch == '\r'))
            return false;
        line_start = ch == '\n';
        if (ch == '\r'   ? i + 1 == len || lines[i + 1] != '\n'
            : ch == '\n' ? i == 0 || lines[i - 1] != '\r'
                         : (ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

int http_resp_interim(struct http_exchange *x, int status, const char *lines, size_t len)
{
    struct conn_mem *m = xmem(x);
    const char *reason = http_status_reason(status);
    size_t reason_len = strlen(reason), need = 16 + reason_len + len;
    char *p;
    int r;

    if (status < 100 || status > 199 || status == 101 || x->state != HTTP_RESP_NONE ||
        !header_lines_ok(lines, len))
        return -EINVAL;
    if (x->req->version_major != 1 || x->req->version_minor < 1)
        return 0;
    if (status == 100 && (!x->req->expect_continue || m->continue_sent))
        return 0;
    if (need > CONN_OBUF_SIZE)
        return -ENOSPC;
    if (CONN_OBUF_SIZE - m->olen < need && (r = conn_flush(x->conn, 0)) < 0)
        return r;
    if (status == 100)
        m->continue_sent = true;
    p = put(m->obuf + m->olen, "HTTP/1.1 1", 10);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = put(p, reason, reason_len);
    p = put(p, "\r\n", 2);
    if (len > 0)
        p = put(p, lines, len);
    p = put(p, "\r\n", 2);
    m->olen = (size_t)(p - m->obuf);
    return conn_flush(x->conn, 0);
}

int http_resp_error(struct http_exchange *x, int status, const char *allow)
{
    size_t len;
    const char *body = http_status_body(status, &len);
    int r;

    if (status_ends_connection(status))
        x->keep_alive = false;
    r = http_resp_error_page(x, status, allow ? "Allow" : NULL, allow);
    if (r != -ENOENT)
        return r;
    r = http_resp_begin(x, status);

    if (r < 0)
        return r;
    if (allow)
        http_resp_header(x, "Allow", 5, allow, strlen(allow));
    if (status_has_no_body(status))
        return http_resp_body(x, NULL, 0);
    http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    return http_resp_body(x, body, len);
}

const char *http_req_header(const struct http_exchange *x, const char *name, size_t *len)
{
    const struct http_header *h = http_request_header_named(x->req, name);

    if (!h) {
        *len = 0;
        return NULL;
    }
    *len = h->value.len;
    return h->value.p;
}

int64_t http_now(const struct http_exchange *x) { return loop_wall(x->loop); }
