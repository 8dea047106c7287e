/* static_encoding.c - Accept-Encoding (RFC 9110 §12.5.3): precompressed siblings and compression.
 */
#include "handlers/static_encoding.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http/parser.h"

/* A cursor over the header value. */
struct ae_scan {
    const char *s;
    size_t len, i;
};

static void skip_ows(struct ae_scan *sc)
{
    while (sc->i < sc->len && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t'))
        sc->i++;
}

static size_t scan_token(struct ae_scan *sc)
{
    size_t start = sc->i;

    while (sc->i < sc->len && http_is_tchar((unsigned char)sc->s[sc->i]))
        sc->i++;
    return sc->i - start;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); -1 when not. */
static int parse_q(const char *s, size_t len)
{
    int q = 0, scale = 100;

    if (len == 0 || (s[0] != '0' && s[0] != '1') || (len > 1 && s[1] != '.') || len > 5)
        return -1;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9' || (s[0] == '1' && s[i] != '0'))
            return -1;
        q += (s[i] - '0') * scale;
    }
    return s[0] == '1' ? 1000 : q;
}

/* The parameters after a coding: only the weight means something. Returns
 * the weight, or -1 when a parameter is malformed. */
static int scan_weight(struct ae_scan *sc)
{
    int q = 1000;

    while (sc->i < sc->len && sc->s[sc->i] == ';') {
        const char *name, *value;
        size_t name_len, value_len;

        sc->i++;
        skip_ows(sc);
        name = sc->s + sc->i;
        name_len = scan_token(sc);
        if (name_len == 0 || sc->i >= sc->len || sc->s[sc->i] != '=')
            return -1;
        sc->i++;
        value = sc->s + sc->i;
        value_len = scan_token(sc);
        if (name_len == 1 && (name[0] == 'q' || name[0] == 'Q') &&
            (q = parse_q(value, value_len)) < 0)
            return -1;
        skip_ows(sc);
    }
    return q;
}

static void take(int *slot, int q)
{
    if (q > *slot)
        *slot = q;
}

/* The slot a coding name fills, or NULL for a coding not served here. The
 * length and, for four letters, the first one leave one name to compare. */
static int *slot_of(const char *name, size_t len, int *codings, int *identity, int *star)
{
    switch (len) {
    case 1: return name[0] == '*' ? star : NULL;
    case 2: return strncasecmp(name, "br", 2) == 0 ? &codings[STATIC_ENCODING_BR] : NULL;
    case 4:
        if (name[0] == 'z' || name[0] == 'Z')
            return strncasecmp(name, "zstd", 4) == 0 ? &codings[STATIC_ENCODING_ZSTD] : NULL;
        return strncasecmp(name, "gzip", 4) == 0 ? &codings[STATIC_ENCODING_GZIP] : NULL;
    case 6: return strncasecmp(name, "x-gzip", 6) == 0 ? &codings[STATIC_ENCODING_GZIP] : NULL;
    case 8: return strncasecmp(name, "identity", 8) == 0 ? identity : NULL;
    default: return NULL;
    }
}

static void record(const char *name, size_t len, int q, int *codings, int *identity, int *star)
{
    int *slot = slot_of(name, len, codings, identity, star);

    if (slot)
        take(slot, q);
}

void static_accept_parse(const char *value, size_t len, struct static_accept *out)
{
    struct ae_scan sc = {.s = value, .len = value ? len : 0};
    int codings[STATIC_ENCODINGS] = {-1, -1, -1}, identity = -1, star = -1;

    while (sc.i < sc.len) {
        const char *name;
        size_t name_len;
        int q;

        while (sc.i < sc.len && (sc.s[sc.i] == ',' || sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t'))
            sc.i++;
        name = sc.s + sc.i;
        name_len = scan_token(&sc);
        skip_ows(&sc);
        q = scan_weight(&sc);
        if (sc.i < sc.len && sc.s[sc.i] != ',') {
            q = -1; /* garbage after the element: skip it whole */
            while (sc.i < sc.len && sc.s[sc.i] != ',')
                sc.i++;
        }
        if (name_len > 0 && q >= 0)
            record(name, name_len, q, codings, &identity, &star);
    }
    for (int e = 0; e < STATIC_ENCODINGS; e++)
        out->q[e] = codings[e] >= 0 ? codings[e] : star >= 0 ? star : 0;
    out->identity = identity >= 0 ? identity : star >= 0 ? star : 1000;
}

int static_accept_pick(const struct static_accept *a, const enum static_encoding *configured,
                       size_t n, unsigned skip)
{
    int best = -1, best_q = 0;

    for (size_t i = 0; i < n; i++) {
        enum static_encoding enc = configured[i];
        int q = a->q[enc];

        if ((skip & (1u << enc)) || q <= 0 || q < a->identity || q <= best_q)
            continue;
        best = (int)enc;
        best_q = q;
    }
    return best;
}

const char *static_encoding_name(enum static_encoding enc)
{
    return enc == STATIC_ENCODING_BR ? "br" : enc == STATIC_ENCODING_ZSTD ? "zstd" : "gzip";
}

const char *static_encoding_suffix(enum static_encoding enc)
{
    return enc == STATIC_ENCODING_BR ? ".br" : ".gz";
}
