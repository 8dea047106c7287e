/* url.h - request paths: decoding and normalisation, percent-encoding, HTML escaping. */
#ifndef COHTTPD_HTTP_URL_H
#define COHTTPD_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes the path of a request-target (the part before '?', as received)
 * exactly once and normalises it into out:
 *   - percent-escapes are decoded once ("%252e" becomes the three bytes "%2e",
 *     a plain name, never a dot);
 *   - repeated slashes are merged ("//" -> "/"), so empty segments vanish
 *     before dot-segments are applied ("/a//../b" -> "/b");
 *   - dot-segments are removed as in RFC 3986 §5.2.4, after decoding, so
 *     "%2e%2e" counts as ".." (it would on the filesystem too); a path whose
 *     last segment is "." or ".." ends with '/' ("/a/b/.." -> "/a/");
 *   - the result starts with '/' and is NUL-terminated.
 * out must hold out_cap >= len + 1 bytes: the result is never longer than the
 * input. Bytes >= 0x80 are kept as they are (no UTF-8 validation: "%c0%ae" is
 * a two-byte name, not a dot).
 * Returns the length of out (without the NUL) or a negative HTTP status:
 *   -400 the path is empty or does not start with '/'; a malformed escape
 *        ("%G1", a truncated "%4"); a NUL, raw or "%00"; another control
 *        byte (< 0x20 or 0x7f) raw or decoded; an encoded slash ("%2F",
 *        "%2f"), which would hide a segment boundary from routing; a
 *        backslash, raw or "%5C", refused because some filesystems and
 *        clients treat it as a separator; a ".." that would climb above the
 *        root ("/../x", "/a/../../x");
 *   -414 out_cap < len + 1 (the caller broke the contract) or len too big.
 * *trailing_slash (may be NULL) is set to whether the normalised path ends
 * with '/' (true for "/", "/a/", "/a/." and "/a/b/.."), which the static
 * handler uses to tell directory requests apart. Pure: no allocation. */
int url_normalize_path(const char *path, size_t len, char *out, size_t out_cap,
                       bool *trailing_slash);

/* As url_normalize_path, for routing a request before the handler is known:
 * an encoded slash ("%2F" or "%2f") is not refused but kept in out as the
 * three bytes "%2F" (so it never becomes a segment boundary), and
 * *encoded_slash (never NULL) tells whether there was one. A handler that
 * maps the path to files answers 400 when *encoded_slash is set; a proxy
 * forwards the target as received. Every other rule, and every other
 * refusal, is the same as url_normalize_path's. *dot_segment (never NULL)
 * is false when no segment of out starts with '.' (true: one may; a segment
 * that ".." took away may have set it), so a handler that hides dotfiles
 * need not look again. */
int url_normalize_path_route(const char *path, size_t len, char *out, size_t out_cap,
                             bool *trailing_slash, bool *encoded_slash, bool *dot_segment);

/* The same answers as url_normalize_path_route (encoded_slash not NULL)
 * or url_normalize_path (encoded_slash NULL), always by the whole walk:
 * those two take a path that needs no change in one pass over its bytes,
 * and tests check them against this one. */
int url_normalize_path_full(const char *path, size_t len, char *out, size_t out_cap,
                            bool *trailing_slash, bool *encoded_slash, bool *dot_segment);

/* Percent-decodes in[0..len) into out (a query component, a form value).
 * With plus_as_space, '+' decodes to ' ' (application/x-www-form-urlencoded).
 * Decoded bytes may include NUL: the caller treats out as bytes. out must
 * hold out_cap >= len + 1 bytes; it is NUL-terminated.
 * Returns the decoded length, or -400 on a malformed escape, -414 when
 * out_cap < len + 1. */
int url_percent_decode(const char *in, size_t len, char *out, size_t out_cap, bool plus_as_space);

/* HTML-escapes in[0..len) for text and attribute values: & < > " ' become
 * &amp; &lt; &gt; &quot; &#39;; every other byte is copied.
 * Returns the length of the full escaped text (without NUL), whatever
 * out_cap is. Writes at most out_cap bytes, the NUL included: when the
 * return value is < out_cap, out holds the whole NUL-terminated text;
 * otherwise it holds the longest prefix that ends on a whole character or
 * entity, NUL-terminated (nothing is written when out_cap is 0, and out may
 * then be NULL to measure). */
size_t url_html_escape(const char *in, size_t len, char *out, size_t out_cap);

/* Percent-encodes in[0..len) for use as a path in an href or a Location:
 * every byte except the RFC 3986 unreserved ones (ALPHA DIGIT - . _ ~) and
 * '/' becomes "%XX" (upper-case hex). Normalising the result with
 * url_normalize_path gives back a normalised input.
 * Return value and truncation: as url_html_escape (a truncated out never
 * ends inside an escape). */
size_t url_percent_encode_path(const char *in, size_t len, char *out, size_t out_cap);

#endif
