/* range.c - the Range header (RFC 9110 §14): parsing, Content-Range, multipart framing. */
#include "handlers/range.h"

#include <stdbool.h>
#include <string.h>

/* A cursor over the header value. */
struct range_scan {
    const char *s;
    size_t len, i;
};

static bool at(const struct range_scan *sc, char c) { return sc->i < sc->len && sc->s[sc->i] == c; }

static void skip_ows(struct range_scan *sc)
{
    while (at(sc, ' ') || at(sc, '\t'))
        sc->i++;
}

/* 1*DIGIT into *v; false when absent or over 64 bits. */
static bool scan_u64(struct range_scan *sc, uint64_t *v)
{
    size_t start = sc->i;

    *v = 0;
    while (sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9') {
        unsigned d = (unsigned)(sc->s[sc->i] - '0');

        if (*v > (UINT64_MAX - d) / 10)
            return false;
        *v = *v * 10 + d;
        sc->i++;
    }
    return sc->i > start;
}

static bool scan_unit(struct range_scan *sc)
{
    static const char unit[] = "bytes"; /* case-insensitive, then '=' */

    if (sc->len < sizeof unit || sc->s[sizeof unit - 1] != '=')
        return false;
    for (size_t k = 0; k < sizeof unit - 1; k++)
        if ((sc->s[k] | 0x20) != unit[k])
            return false;
    sc->i = sizeof unit;
    return true;
}

/* One range-spec, and what it means for `size`. */
struct range_spec {
    bool satisfiable;
    bool empty_suffix; /* "-N" with N > 0 on an empty representation */
    struct http_range r;
};

/* "N-", "N-M" or "-N". Returns false when malformed. */
static bool scan_spec(struct range_scan *sc, uint64_t size, struct range_spec *spec)
{
    uint64_t first, last;

    *spec = (struct range_spec){0};
    if (at(sc, '-')) {
        sc->i++;
        if (!scan_u64(sc, &last))
            return false;
        spec->empty_suffix = size == 0 && last > 0;
        spec->satisfiable = size > 0 && last > 0;
        spec->r = (struct http_range){.first = last >= size ? 0 : size - last, .last = size - 1};
        return true;
    }
    if (!scan_u64(sc, &first) || !at(sc, '-'))
        return false;
    sc->i++;
    last = UINT64_MAX;
    if (sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9' &&
        (!scan_u64(sc, &last) || last < first))
        return false;
    spec->satisfiable = first < size;
    spec->r = (struct http_range){.first = first, .last = last >= size ? size - 1 : last};
    return true;
}

/* Sorts by first and merges overlapping or adjacent ranges in place. */
static size_t sort_merge(struct http_range *r, size_t n)
{
    size_t m = 0;

    for (size_t i = 1; i < n; i++) {
        struct http_range key = r[i];
        size_t j = i;

        for (; j > 0 && r[j - 1].first > key.first; j--)
            r[j] = r[j - 1];
        r[j] = key;
    }
    for (size_t i = 1; i < n; i++) {
        if (r[i].first <= r[m].last || r[i].first - r[m].last == 1) {
            if (r[i].last > r[m].last)
                r[m].last = r[i].last;
        } else {
            r[++m] = r[i];
        }
    }
    return n ? m + 1 : 0;
}

/* Scans the range-set into sat[]; returns the number of specs or -1 when malformed. */
static int scan_set(struct range_scan *sc, uint64_t size, struct http_range *sat, size_t *n_sat,
                    bool *empty_suffix)
{
    int specs = 0;

    for (;;) {
        struct range_spec spec;

        skip_ows(sc);
        if (at(sc, ',')) { /* an empty list element */
            sc->i++;
            continue;
        }
        if (sc->i == sc->len)
            return specs;
        if (++specs > RANGE_SPECS_MAX || !scan_spec(sc, size, &spec))
            return -1;
        if (spec.satisfiable)
            sat[(*n_sat)++] = spec.r;
        *empty_suffix |= spec.empty_suffix;
        skip_ows(sc);
        if (sc->i < sc->len && !at(sc, ','))
            return -1;
    }
}

int range_parse(const char *value, size_t len, uint64_t size, struct http_range *out,
                size_t out_cap)
{
    struct range_scan sc = {.s = value, .len = len, .i = 0};
    struct http_range sat[RANGE_SPECS_MAX];
    size_t n_sat = 0, n;
    bool empty_suffix = false;
    int specs;

    if (!value || !scan_unit(&sc))
        return 0;
    specs = scan_set(&sc, size, sat, &n_sat, &empty_suffix);
    if (specs <= 0 || empty_suffix)
        return 0;
    if (n_sat == 0)
        return -416;
    n = sort_merge(sat, n_sat);
    if (n > out_cap || n > RANGE_MAX)
        return 0;
    memcpy(out, sat, n * sizeof *out);
    return (int)n;
}

/* A bounded text builder: counts everything, writes what fits. */
struct fmt {
    char *out;
    size_t cap, len;
};

static void fmt_put(struct fmt *f, const char *s, size_t n)
{
    if (f->len + n < f->cap)
        memcpy(f->out + f->len, s, n);
    f->len += n;
}

static void fmt_u64(struct fmt *f, uint64_t v)
{
    char buf[20];
    size_t i = sizeof buf;

    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fmt_put(f, buf + i, sizeof buf - i);
}

static size_t fmt_end(struct fmt *f)
{
    if (f->len < f->cap)
        f->out[f->len] = '\0';
    else if (f->cap > 0)
        f->out[0] = '\0';
    return f->len;
}

static void fmt_range(struct fmt *f, const struct http_range *r, uint64_t size)
{
    fmt_put(f, "bytes ", 6);
    fmt_u64(f, r->first);
    fmt_put(f, "-", 1);
    fmt_u64(f, r->last);
    fmt_put(f, "/", 1);
    fmt_u64(f, size);
}

size_t range_format_content_range(char *out, size_t cap, const struct http_range *r, uint64_t size)
{
    struct fmt f = {.out = out, .cap = cap};

    fmt_range(&f, r, size);
    return fmt_end(&f);
}

size_t range_format_unsatisfied(char *out, size_t cap, uint64_t size)
{
    struct fmt f = {.out = out, .cap = cap};

    fmt_put(&f, "bytes */", 8);
    fmt_u64(&f, size);
    return fmt_end(&f);
}

size_t range_boundary_format(char *out, size_t cap, uint64_t seed)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    struct fmt f = {.out = out, .cap = cap};
    uint64_t x = 0;

    for (int i = 0; i < RANGE_BOUNDARY_LEN; i++) {
        if (i % 12 == 0) { /* splitmix64: 12 base-36 digits per 64 bits */
            seed += UINT64_C(0x9e3779b97f4a7c15);
            x = (seed ^ (seed >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
            x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
            x ^= x >> 31;
        }
        fmt_put(&f, &alphabet[x % 36], 1);
        x /= 36;
    }
    return fmt_end(&f);
}

size_t range_format_part_header(char *out, size_t cap, const char *boundary, size_t boundary_len,
                                const char *type, size_t type_len, const struct http_range *r,
                                uint64_t size)
{
    struct fmt f = {.out = out, .cap = cap};

    fmt_put(&f, "\r\n--", 4);
    fmt_put(&f, boundary, boundary_len);
    fmt_put(&f, "\r\nContent-Type: ", 16);
    fmt_put(&f, type, type_len);
    fmt_put(&f, "\r\nContent-Range: ", 17);
    fmt_range(&f, r, size);
    fmt_put(&f, "\r\n\r\n", 4);
    return fmt_end(&f);
}

size_t range_format_closing(char *out, size_t cap, const char *boundary, size_t boundary_len)
{
    struct fmt f = {.out = out, .cap = cap};

    fmt_put(&f, "\r\n--", 4);
    fmt_put(&f, boundary, boundary_len);
    fmt_put(&f, "--\r\n", 4);
    return fmt_end(&f);
}

uint64_t range_multipart_length(const struct http_range *ranges, size_t n, const char *boundary,
                                size_t boundary_len, const char *type, size_t type_len,
                                uint64_t size)
{
    uint64_t total = range_format_closing(NULL, 0, boundary, boundary_len);

    for (size_t i = 0; i < n; i++) {
        total += range_format_part_header(NULL, 0, boundary, boundary_len, type, type_len,
                                          &ranges[i], size);
        total += ranges[i].last - ranges[i].first + 1;
    }
    return total;
}
