/* date.h - HTTP-dates (RFC 9110 §5.6.7): formatting, parsing, a per-second cache. */
#ifndef COHTTPD_HTTP_DATE_H
#define COHTTPD_HTTP_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* The earliest and latest times an IMF-fixdate can show (0000-01-01 00:00:00
 * and 9999-12-31 23:59:59 UTC). */
#define HTTP_DATE_MIN INT64_C(-62167219200)
#define HTTP_DATE_MAX INT64_C(253402300799)

/* Writes the IMF-fixdate of unix_seconds (UTC, proleptic Gregorian calendar)
 * and a NUL into out. Times outside [HTTP_DATE_MIN, HTTP_DATE_MAX] are
 * clamped to that range. No locale, no time zone, no allocation. */
void http_date_format(int64_t unix_seconds, char out[HTTP_DATE_LEN + 1]);

/* Parses s[0..len) as an HTTP-date: the IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", or one of the obsolete forms recipients
 * must accept, RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
 * "Sun Nov  6 08:49:37 1994". The whole input must match (no surrounding
 * whitespace, no trailing text); names are case-sensitive as the grammar
 * says; the day of the month must exist (no "31 Apr", "29 Feb" only in leap
 * years); the weekday name must be a valid one but is not checked against
 * the date; second 60 (a leap second) is accepted and counts as the next
 * minute's 00. A two-digit RFC 850 year is read as the year with those
 * digits that is at most 50 years after the current time (RFC 9110).
 * Returns 0 and *unix_seconds, or -1 when s is not a valid HTTP-date. */
int http_date_parse(const char *s, size_t len, int64_t *unix_seconds);

/* As http_date_parse, with `now` (unix seconds) instead of the current time
 * for the two-digit year rule. */
int http_date_parse_at(const char *s, size_t len, int64_t now, int64_t *unix_seconds);

/* A per-thread Date header cache. A zero-initialised struct is empty and
 * ready; each worker owns one (no locking). */
struct http_date_cache {
    int64_t second; /* the time text shows, when valid */
    bool valid;
    char text[HTTP_DATE_LEN + 1];
};

/* Returns the IMF-fixdate of `now` (NUL-terminated, HTTP_DATE_LEN bytes),
 * formatting it only when the second differs from the last call. The
 * pointer is into c: valid until the next call with another second. */
const char *http_date_cached(struct http_date_cache *c, int64_t now);

/* The Date and Server lines every response head carries, made once per
 * second: "Date: <IMF-fixdate>\r\n", then "Server: <server>\r\n" unless
 * server is empty. One thread's own (no locking), for one server value. */
struct http_head_lines {
    int64_t second; /* the time text shows, when valid */
    bool valid;
    size_t len;  /* of text */
    char text[]; /* the lines, then a NUL */
};

/* A new, empty struct for server (NULL or "": no Server line); the text
 * is copied. Returns NULL without memory. Free it with free(). */
struct http_head_lines *http_head_lines_new(const char *server);

/* Returns the lines for `now` (unix seconds), *len bytes, formatting the
 * date only when the second differs from the last call. The pointer is
 * into h: valid until the next call with another second. Never fails. */
static inline const char *http_head_lines_at(struct http_head_lines *h, int64_t now, size_t *len)
{
    if (!h->valid || h->second != now) {
        http_date_format(now, h->text + 6);
        h->text[6 + HTTP_DATE_LEN] = '\r';
        h->second = now;
        h->valid = true;
    }
    *len = h->len;
    return h->text;
}

#endif
