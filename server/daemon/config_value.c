/* config_value.c - value syntax of cohttpd.ini: sizes, durations, tokens, paths, hints. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config_internal.h"

#define HINT_WORD_MAX 64

/* Decimal digits only (no sign, no blanks); false when empty or on overflow. */
static bool parse_u64_prefix(const char *s, uint64_t *out, const char **end)
{
    uint64_t v = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');

        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    *end = p;
    return p != s;
}

bool config_parse_u64(const char *s, uint64_t *out)
{
    const char *end;

    return parse_u64_prefix(s, out, &end) && *end == '\0';
}

static bool mul_ok(uint64_t v, uint64_t mult, uint64_t *out)
{
    if (mult && v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

/* "16k", "1m", "2g" (either case), a bare number of bytes. */
bool config_parse_size(const char *s, uint64_t *out)
{
    const char *end;
    uint64_t v, mult = 1;

    if (!parse_u64_prefix(s, &v, &end))
        return false;
    if (*end && end[1] == '\0') {
        char u = config_lower(*end);
        mult = u == 'k' ? KIB : u == 'm' ? MIB : u == 'g' ? GIB : 0;
    } else if (*end) {
        mult = 0;
    }
    return mult && mul_ok(v, mult, out);
}

/* "500ms", "30s", "5m", "1h", a bare number of seconds; result in ms. */
bool config_parse_duration(const char *s, uint64_t *out)
{
    const char *end;
    uint64_t v, mult = 0;

    if (!parse_u64_prefix(s, &v, &end))
        return false;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = HOUR_MS;
    return mult && mul_ok(v, mult, out);
}

bool config_parse_bool(const char *s, uint64_t *out)
{
    static const char *const yes[] = {"on", "yes", "true"}, *const no[] = {"off", "no", "false"};

    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

void config_format_size(uint64_t v, char *buf, size_t len)
{
    if (v && v % GIB == 0)
        snprintf(buf, len, "%llug", (unsigned long long)(v / GIB));
    else if (v && v % MIB == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(v / MIB));
    else if (v && v % KIB == 0)
        snprintf(buf, len, "%lluk", (unsigned long long)(v / KIB));
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
}

void config_format_duration(uint64_t ms, char *buf, size_t len)
{
    if (ms && ms % HOUR_MS == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(ms / HOUR_MS));
    else if (ms && ms % 60000 == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* ---- did you mean -------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[HINT_WORD_MAX + 1];

    if (la > HINT_WORD_MAX || lb > HINT_WORD_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* Keeps cand in *best when it is the closest plausible spelling of word so far. */
void config_hint(const char *word, const char *cand, const char **best, size_t *best_d)
{
    size_t d = edit_distance(word, cand);

    if (d <= 2 && d < strlen(cand) && d < *best_d) {
        *best = cand;
        *best_d = d;
    }
}
