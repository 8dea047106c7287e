/* parser_internal.h - what parser.c and parser_rules.c share: span helpers,
 * character classes and the field rules' entry point. Not for other files. */
#ifndef COHTTPD_HTTP_PARSER_INTERNAL_H
#define COHTTPD_HTTP_PARSER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "http/parser.h"

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* Whether a[0..n) and b[0..n) are equal ignoring ASCII case. A leaf
 * function: the short names it compares cost less than a call would. */
static inline bool ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x != y && ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z'))
            return false;
    }
    return true;
}

static inline struct http_span span_of(const char *p, const char *end)
{
    return (struct http_span){.p = p, .len = (size_t)(end - p)};
}

static inline struct http_span span_trim(struct http_span s)
{
    while (s.len > 0 && is_ows(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_ows(s.p[s.len - 1]))
        s.len--;
    return s;
}

static inline bool span_ieq(struct http_span s, const char *lit)
{
    size_t n = strlen(lit);

    return s.len == n && ascii_ieq(s.p, lit, n);
}

/* Steps through a comma-separated list (RFC 9110 §5.6.1): *elem is the next
 * non-empty element, OWS trimmed. False at the end of the list. */
static inline bool list_next(struct http_span *rest, struct http_span *elem)
{
    while (rest->len > 0) {
        const char *comma = memchr(rest->p, ',', rest->len);
        const char *end = comma ? comma : rest->p + rest->len;

        *elem = span_trim(span_of(rest->p, end));
        rest->len -= (size_t)(end - rest->p) + (comma ? 1 : 0);
        rest->p = comma ? comma + 1 : end;
        if (elem->len > 0)
            return true;
    }
    return false;
}

/* llhttp's flags for the request, none when llhttp did not read it. */
static inline uint16_t llhttp_flags(const struct http_parser *p)
{
    return p->ll_ready ? p->llhttp.flags : 0;
}

/* Pass 4 of a head (parser_rules.c): RFC 9112 §3.2, §3.3, §6.1-6.3 and
 * §9.3 over the fields the line pass split and indexed: Host, the
 * request-target's form, framing (cross-checked with llhttp's flags when
 * llhttp read the head), Expect, Connection. Fills req's host, path,
 * query, content_length, chunked, keep_alive, expect_continue and upgrade;
 * returns 0 or the status to refuse the head with. */
int http_head_check_fields(struct http_parser *p, struct http_request *req);

#endif
