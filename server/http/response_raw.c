/* response_raw.c - a response head a handler produced whole (nph- scripts), checked before
 * a byte of it goes out. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "http/conn.h"
#include "http/exchange.h"

/* What the status line and the header lines say. */
struct raw_head {
    int status;
    const char *reason;
    size_t reason_len;
    const char *lines;      /* the first header line */
    size_t lines_len;       /* up to the empty line, excluded */
    int64_t content_length; /* -1: none */
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* A byte allowed in a field value or a reason phrase: HTAB, SP, VCHAR, obs-text. */
static bool is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* The length of the line at p (up to its CRLF, excluded) within end, or
 * -1 when no CRLF ends it or a CR, LF or control byte is inside it. */
static ssize_t raw_line(const char *p, const char *end)
{
    for (const char *q = p; q < end; q++) {
        if (*q == '\r')
            return q + 1 < end && q[1] == '\n' ? q - p : -1;
        if (!is_text((unsigned char)*q))
            return -1;
    }
    return -1;
}

/* "HTTP/1.x SP 3DIGIT SP reason": fills h, returns false when malformed. */
static bool raw_status_line(const char *p, size_t len, struct raw_head *h)
{
    if (len < 13 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
        !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) || p[12] != ' ')
        return false;
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    h->reason = p + 13;
    h->reason_len = len - 13;
    return h->status >= 200 && h->status <= 599;
}

/* True when the line's name (before its colon, name_len bytes) is name. */
static bool raw_named(const char *line, size_t name_len, const char *name)
{
    return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

/* Checks one header line; a Content-Length is parsed into h. */
static bool raw_header_line(const char *line, size_t len, struct raw_head *h)
{
    size_t name_len = 0, i;
    uint64_t v = 0;

    while (name_len < len && http_is_tchar((unsigned char)line[name_len]))
        name_len++;
    if (name_len == 0 || name_len == len || line[name_len] != ':')
        return false; /* obs-fold, a space before the colon, a bad name */
    if (raw_named(line, name_len, "Transfer-Encoding"))
        return false; /* the engine frames the body itself */
    if (!raw_named(line, name_len, "Content-Length"))
        return true;
    if (h->content_length >= 0)
        return false;
    for (i = name_len + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    if (i == len)
        return false;
    for (; i < len && is_digit(line[i]); i++) {
        if (v > (UINT64_C(1) << 53))
            return false;
        v = v * 10 + (uint64_t)(line[i] - '0');
    }
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    h->content_length = (int64_t)v;
    return i == len;
}

/* Parses and checks head[0..len). Returns false when anything is wrong. */
static bool raw_parse(const char *head, size_t len, struct raw_head *h)
{
    const char *end = head + len, *p;
    ssize_t n = raw_line(head, end);

    *h = (struct raw_head){.content_length = -1};
    if (n < 0 || !raw_status_line(head, (size_t)n, h))
        return false;
    p = head + n + 2;
    h->lines = p;
    while ((n = raw_line(p, end)) > 0) {
        if (!raw_header_line(p, (size_t)n, h))
            return false;
        p += n + 2;
    }
    h->lines_len = (size_t)(p - h->lines);
    /* The empty line ends the head, exactly at its end. */
    return n == 0 && p + 2 == end;
}

/* Header lines the engine writes itself. */
static bool raw_engine_owned(const char *line, size_t name_len)
{
    static const char *const owned[] = {"Connection", "Keep-Alive", "Content-Length", "Date",
                                        "Server"};

    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        if (raw_named(line, name_len, owned[i]))
            return true;
    }
    return false;
}

/* Adds the handler's header lines but those the engine owns. */
static int raw_add_lines(struct http_exchange *x, const struct raw_head *h)
{
    const char *p = h->lines, *end = h->lines + h->lines_len;

    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        size_t name_len = (size_t)((const char *)memchr(p, ':', (size_t)(eol - p)) - p);
        int r = 0;

        if (!raw_engine_owned(p, name_len))
            r = http_resp_header_lines(x, p, (size_t)(eol - p) + 2);
        if (r < 0)
            return r;
        p = eol + 2;
    }
    return 0;
}

int http_resp_raw(struct http_exchange *x, const char *head, size_t len)
{
    struct raw_head h;
    int r;

    if (x->state != HTTP_RESP_NONE)
        return -EINVAL;
    if (!raw_parse(head, len, &h)) {
        log_error("%s: the handler's response head is invalid: 502", x->path);
        r = http_resp_error(x, 502, NULL);
        return r < 0 ? r : -EBADMSG;
    }
    r = http_resp_open_reason(x, h.status, h.reason, h.reason_len);
    if (r == 0)
        r = raw_add_lines(x, &h);
    if (r == 0)
        r = http_resp_stream_raw(x, h.content_length);
    return r;
}

int http_resp_raw_begin(struct http_exchange *x, int status, const char *reason, size_t reason_len)
{
    if (x->state != HTTP_RESP_NONE)
        return -EINVAL;
    return http_resp_open_reason(x, status, reason, reason_len);
}

int http_resp_raw_end(struct http_exchange *x, int64_t content_length)
{
    return http_resp_stream_raw(x, content_length);
}
