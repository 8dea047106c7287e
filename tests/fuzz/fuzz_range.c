/* fuzz_range.c - libFuzzer harness for server/handlers/range.c: Range parsing invariants
 * and the multipart framing helpers.
 *
 * Input: a first line holding the representation size in decimal, then the
 * Range header value ("1000\nbytes=0-1,-5"); without a newline the size is
 * 10000 and the whole input is the value. The value is copied into an
 * exact-size buffer so a read past it trips AddressSanitizer; every
 * violated invariant aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash libFuzzer reports with the stack) when ok is false. */
static void check(bool ok)
{
    if (!ok)
        abort();
}

static uint64_t read_size(const uint8_t *data, size_t len)
{
    uint64_t v = 0;

    for (size_t i = 0; i < len && i < 20; i++)
        if (data[i] >= '0' && data[i] <= '9')
            v = v * 10 + (uint64_t)(data[i] - '0');
    return v;
}

/* Ranges are satisfiable, sorted, neither overlapping nor adjacent. */
static void check_ranges(const struct http_range *r, int n, uint64_t size)
{
    uint64_t total = 0;

    check(n >= 1 && n <= RANGE_MAX);
    for (int i = 0; i < n; i++) {
        check(r[i].first <= r[i].last && r[i].last < size);
        if (i > 0)
            check(r[i].first > r[i - 1].last + 1);
        total += r[i].last - r[i].first + 1;
    }
    check(total <= size);
}

/* Writing the ranges back as a header and parsing it gives the same ranges. */
static void check_reparse(const struct http_range *r, int n, uint64_t size)
{
    char buf[RANGE_MAX * 44 + 8];
    struct http_range again[RANGE_MAX];
    size_t len = (size_t)snprintf(buf, sizeof buf, "bytes=");

    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%llu-%llu", i ? "," : "",
                                (unsigned long long)r[i].first, (unsigned long long)r[i].last);
    check(len < sizeof buf);
    check(range_parse(buf, len, size, again, RANGE_MAX) == n);
    check(memcmp(again, r, (size_t)n * sizeof *r) == 0);
}

/* The announced multipart length equals the sum of what the formatters
 * write plus the range bytes. */
static void check_multipart(const struct http_range *r, int n, uint64_t size)
{
    static const char boundary[] = "0123456789abcdefghijklmn";
    static const char type[] = "application/octet-stream";
    char buf[256];
    uint64_t total = 0;

    for (int i = 0; i < n; i++) {
        size_t h = range_format_part_header(buf, sizeof buf, boundary, sizeof boundary - 1, type,
                                            sizeof type - 1, &r[i], size);

        check(h < sizeof buf && strlen(buf) == h);
        total += h + (r[i].last - r[i].first + 1);
    }
    total += range_format_closing(buf, sizeof buf, boundary, sizeof boundary - 1);
    check(total == range_multipart_length(r, (size_t)n, boundary, sizeof boundary - 1, type,
                                          sizeof type - 1, size));
    check(range_format_content_range(buf, sizeof buf, &r[0], size) == strlen(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    uint64_t rep_size = nl ? read_size(data, (size_t)(nl - data)) : 10000;
    size_t off = nl ? (size_t)(nl - data) + 1 : 0, len = size - off;
    char *value = malloc(len ? len : 1);
    struct http_range out[RANGE_MAX];
    int n;

    check(value);
    memcpy(value, data + off, len);
    n = range_parse(value, len, rep_size, out, RANGE_MAX);
    check(n == -416 || (n >= 0 && n <= RANGE_MAX));
    if (n > 0) {
        check_ranges(out, n, rep_size);
        check_reparse(out, n, rep_size);
        check_multipart(out, n, rep_size);
    }
    free(value);
    return 0;
}
