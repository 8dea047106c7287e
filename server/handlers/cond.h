/* cond.h - conditional requests (RFC 9110 §13): ETags, If-* evaluation, If-Range. */
#ifndef COHTTPD_HANDLERS_COND_H
#define COHTTPD_HANDLERS_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any ETag cond_etag_format writes, and a NUL. */
#define COND_ETAG_MAX 56

/* Formats the strong ETag of a file into out:
 * "\"<hex ino>-<hex mtime in ns>-<hex size>\"", or without the inode part
 * when ino is 0 (pass 0 for ETags that agree across machines serving the
 * same files, as nginx's do). Any change of content that moves mtime, size
 * or (with ino) the inode changes the tag.
 * Returns the length (without NUL); when it is < cap out holds the whole
 * NUL-terminated tag, otherwise an empty string (if cap > 0). */
size_t cond_etag_format(char *out, size_t cap, uint64_t ino, uint64_t size, int64_t mtime_sec,
                        long mtime_nsec);

/* The conditional header fields of a request, values as received (OWS
 * trimmed). A field is absent when its pointer is NULL or its length 0. */
struct cond_request {
    bool get_or_head; /* the method is GET or HEAD */
    const char *if_match;
    size_t if_match_len;
    const char *if_none_match;
    size_t if_none_match_len;
    const char *if_modified_since;
    size_t if_modified_since_len;
    const char *if_unmodified_since;
    size_t if_unmodified_since_len;
};

enum cond_result { COND_PROCEED = 0, COND_NOT_MODIFIED = 304, COND_PRECONDITION_FAILED = 412 };

/* Evaluates the preconditions in RFC 9110 §13.2.2 order for a selected
 * representation that exists, with ETag etag[0..etag_len) (a quoted
 * entity-tag, "W/" for weak; NULL when it has none) and Last-Modified mtime:
 *   1. If-Match: "*" is true; else true when an entity-tag of the list
 *      matches etag by strong comparison (a weak tag on either side never
 *      matches). False -> 412.
 *   2. Without If-Match, If-Unmodified-Since: false when mtime is later than
 *      the date -> 412; an invalid date is ignored.
 *   3. If-None-Match: "*" is false; else false when an entity-tag of the
 *      list matches etag by weak comparison (W/ ignored). False -> 304 for
 *      GET/HEAD, 412 for other methods.
 *   4. Without If-None-Match, for GET/HEAD only, If-Modified-Since: false
 *      when mtime is not later than the date -> 304; an invalid date is
 *      ignored.
 * A list scan stops at the first malformed element (elements before it
 * still count). Returns COND_PROCEED when the request goes on (the caller
 * then evaluates If-Range with cond_if_range). Pure. */
enum cond_result cond_evaluate(const struct cond_request *r, const char *etag, size_t etag_len,
                               int64_t mtime);

/* If-Range (RFC 9110 §13.1.5): true when a Range header may be honoured.
 * value[0..len) is an entity-tag, true when it is strong and equal to a
 * strong etag, or an HTTP-date, true when it equals mtime exactly. A weak
 * or malformed entity-tag and an invalid date give false (send the whole
 * representation). An absent If-Range (value NULL or len 0) gives true. */
bool cond_if_range(const char *value, size_t len, const char *etag, size_t etag_len, int64_t mtime);

#endif
