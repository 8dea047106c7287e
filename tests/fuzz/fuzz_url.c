/* fuzz_url.c - libFuzzer harness for server/http/url.c: normalisation invariants (strict
 * and routing variants), round trips through the percent-encoder, the HTML escaper.
 *
 * The one-pass path for plain paths is checked against the whole walk.
 *
 * The input is a request path as received (the seed corpus holds plain
 * paths). The input is copied into an exact-size buffer so a read past it
 * trips AddressSanitizer; every violated invariant aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash libFuzzer reports with the stack) when ok is false. */
static void check(bool ok)
{
    if (!ok)
        abort();
}

/* What a normalised path must look like. */
static void check_normalized(const char *out, int n, bool slash)
{
    check(n >= 1 && out[0] == '/' && out[n] == '\0' && strlen(out) == (size_t)n);
    check(slash == (out[n - 1] == '/'));
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];

        check(c >= 0x20 && c != 0x7f && c != '\\');
        if (c != '/')
            continue;
        check(out[i + 1] != '/'); /* no empty segment */
        /* no "." or ".." segment */
        check(!(out[i + 1] == '.' && (out[i + 2] == '/' || out[i + 2] == '\0')));
        check(
            !(out[i + 1] == '.' && out[i + 2] == '.' && (out[i + 3] == '/' || out[i + 3] == '\0')));
    }
}

/* Percent-encoding a normalised path and normalising it again gives it back. */
static void check_encode_round_trip(const char *out, int n)
{
    size_t need = url_percent_encode_path(out, (size_t)n, NULL, 0);
    char *enc = malloc(need + 1), *back = malloc(need + 1);
    bool slash;

    check(enc && back);
    check(url_percent_encode_path(out, (size_t)n, enc, need + 1) == need);
    check(strlen(enc) == need);
    check(url_normalize_path(enc, need, back, need + 1, &slash) == n);
    check(memcmp(back, out, (size_t)n + 1) == 0);
    free(enc);
    free(back);
}

/* Escaping: the full length is reported whatever the room, and a short out
 * holds a NUL-terminated prefix free of raw markup characters. */
static void check_html_escape(const char *in, size_t len, size_t small_cap)
{
    size_t need = url_html_escape(in, len, NULL, 0);
    char *full = malloc(need + 1), *part = malloc(small_cap ? small_cap : 1);

    check(full && part);
    check(url_html_escape(in, len, full, need + 1) == need);
    check(memchr(full, '<', need) == NULL && memchr(full, '>', need) == NULL);
    check(memchr(full, '"', need) == NULL && memchr(full, '\'', need) == NULL);
    if (small_cap) {
        check(url_html_escape(in, len, part, small_cap) == need);
        check(memchr(part, '\0', small_cap) != NULL);
        check(strncmp(part, full, strlen(part)) == 0);
    }
    free(full);
    free(part);
}

/* The routing variant differs only by keeping encoded slashes. */
static void check_route_variant(const char *in, size_t size, int strict_n, const char *strict)
{
    char *out = malloc(size + 1);
    bool slash = false, enc = false, dot = false;
    int n;

    check(out != NULL);
    n = url_normalize_path_route(in, size, out, size + 1, &slash, &enc, &dot);
    if (strict_n >= 0)
        check(n == strict_n && !enc && memcmp(out, strict, (size_t)n + 1) == 0);
    else
        check(n == -400 || enc);
    if (n >= 0)
        check_normalized(out, n, slash);
    /* No dot segment said: none there (a handler hiding dotfiles trusts it). */
    for (int i = 1; n >= 0 && !dot && i < n; i++)
        check(!(out[i] == '.' && out[i - 1] == '/'));
    free(out);
}

/* The one-pass path for plain paths answers as the whole walk does. */
static void check_whole_walk(const char *in, size_t size, int strict_n, const char *strict)
{
    char *out = malloc(size + 1), *route = malloc(size + 1);
    bool slash = false, enc = false, route_slash = false, route_enc = false;
    bool dot = false, route_dot = false;
    int n, route_n;

    check(out && route);
    n = url_normalize_path_full(in, size, out, size + 1, &slash, NULL, NULL);
    check(n == strict_n && (n < 0 || memcmp(out, strict, (size_t)n + 1) == 0));
    route_n =
        url_normalize_path_route(in, size, route, size + 1, &route_slash, &route_enc, &route_dot);
    n = url_normalize_path_full(in, size, out, size + 1, &slash, &enc, &dot);
    check(n == route_n && enc == route_enc && dot == route_dot);
    check(n < 0 || (slash == route_slash && memcmp(out, route, (size_t)n + 1) == 0));
    free(out);
    free(route);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1), *out = malloc(size + 1), *again = malloc(size + 1);
    bool slash = false;
    int n;

    check(in && out && again);
    memcpy(in, data, size);
    n = url_normalize_path(in, size, out, size + 1, &slash);
    check(n == -400 || (n >= 1 && (size_t)n <= size));
    if (n > 0) {
        check_normalized(out, n, slash);
        check_encode_round_trip(out, n);
        if (!memchr(out, '%', (size_t)n)) { /* nothing left to decode: idempotent */
            check(url_normalize_path(out, (size_t)n, again, size + 1, NULL) == n);
            check(memcmp(again, out, (size_t)n + 1) == 0);
        }
    }
    check_route_variant(in, size, n, out);
    check_whole_walk(in, size, n, out);
    n = url_percent_decode(in, size, again, size + 1, size % 2 == 1);
    check(n == -400 || (n >= 0 && (size_t)n <= size));
    check_html_escape(in, size, size ? (size_t)data[0] % 24 : 0);
    free(in);
    free(out);
    free(again);
    return 0;
}
