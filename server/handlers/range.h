/* range.h - the Range header (RFC 9110 §14): parsing, Content-Range, multipart framing. */
#ifndef COHTTPD_HANDLERS_RANGE_H
#define COHTTPD_HANDLERS_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* A satisfiable byte range, both ends inclusive: first <= last < size. */
struct http_range {
    uint64_t first, last;
};

/* The most ranges a response serves, after merging. */
#define RANGE_MAX 16
/* The most range-specs a Range header may list before merging. */
#define RANGE_SPECS_MAX 100
/* Room for any Content-Range value range.c formats, and a NUL. */
#define RANGE_CONTENT_RANGE_MAX 70
/* Length of the boundaries range_boundary_format writes. */
#define RANGE_BOUNDARY_LEN 24

/* Parses a Range header value for a representation of `size` bytes.
 * Returns the number n >= 1 of satisfiable ranges written to out[0..n):
 * sorted, with overlapping and adjacent ranges merged (so the ranges never
 * cover a byte twice and their total never exceeds size), "a-b" with
 * b >= size clipped to size - 1, a suffix "-N" with N >= size covering the
 * whole representation.
 * Returns 0 when the caller should ignore the header and send the whole
 * representation with 200, as RFC 9110 §14.2 allows:
 *   - the value is malformed: a unit other than "bytes" (compared without
 *     case), no '=', a spec that is not "N-", "N-M" or "-N", M < N, a
 *     number that overflows 64 bits, whitespace other than around commas;
 *   - it lists more than RANGE_SPECS_MAX specs (as Apache's MaxRanges), or
 *     more than min(out_cap, RANGE_MAX) ranges remain after merging: a
 *     cheap whole response instead of a costly multipart one;
 *   - size is 0 and a suffix range with N > 0 is listed: satisfiable per
 *     RFC 9110 §14.1.3, but there is no byte to send.
 * Returns -416 when the value is valid but no spec is satisfiable: every
 * "N-"/"N-M" has N >= size and every suffix is "-0" (for size 0 every
 * "N-" range, e.g. "bytes=0-0"). The caller answers 416 with
 * the Content-Range that range_format_unsatisfied formats.
 * Empty list elements and OWS around commas are accepted ("bytes=0-1, ,5-").
 * Pure; uses about 2 KiB of stack. */
int range_parse(const char *value, size_t len, uint64_t size, struct http_range *out,
                size_t out_cap);

/* The formatting helpers below return the full length of their text
 * (without the NUL). When it is < cap the whole text and a NUL are in out;
 * otherwise out (if cap > 0) holds an empty string. */

/* "bytes FIRST-LAST/SIZE", the Content-Range of a single-range 206. */
size_t range_format_content_range(char *out, size_t cap, const struct http_range *r, uint64_t size);

/* "bytes *" then "/SIZE": the Content-Range of a 416. */
size_t range_format_unsatisfied(char *out, size_t cap, uint64_t size);

/* A boundary for multipart/byteranges: RANGE_BOUNDARY_LEN characters drawn
 * from seed (pass a random value; the boundary must not occur in the body). */
size_t range_boundary_format(char *out, size_t cap, uint64_t seed);

/* The header of a multipart/byteranges part, starting with the delimiter:
 * "\r\n--BOUNDARY\r\nContent-Type: TYPE\r\nContent-Range: bytes a-b/size\r\n\r\n".
 * The part's body (bytes r->first..r->last) follows it. */
size_t range_format_part_header(char *out, size_t cap, const char *boundary, size_t boundary_len,
                                const char *type, size_t type_len, const struct http_range *r,
                                uint64_t size);

/* The close delimiter after the last part: "\r\n--BOUNDARY--\r\n". */
size_t range_format_closing(char *out, size_t cap, const char *boundary, size_t boundary_len);

/* The exact Content-Length of the multipart/byteranges body made of, for
 * each of the n ranges, range_format_part_header and the range's bytes,
 * then range_format_closing: what the static handler announces before it
 * streams the parts. */
uint64_t range_multipart_length(const struct http_range *ranges, size_t n, const char *boundary,
                                size_t boundary_len, const char *type, size_t type_len,
                                uint64_t size);

#endif
