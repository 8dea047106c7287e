/* cond.c - conditional requests (RFC 9110 §13): ETags, If-* evaluation, If-Range. */
#include "handlers/cond.h"

#include <string.h>

#include "http/date.h"

static void put_hex(char *out, size_t cap, size_t *len, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char buf[16];
    size_t i = sizeof buf;

    do {
        buf[--i] = hex[v & 15];
        v >>= 4;
    } while (v);
    if (*len + sizeof buf - i < cap)
        memcpy(out + *len, buf + i, sizeof buf - i);
    *len += sizeof buf - i;
}

static void put_char(char *out, size_t cap, size_t *len, char c)
{
    if (*len + 1 < cap)
        out[*len] = c;
    *len += 1;
}

size_t cond_etag_format(char *out, size_t cap, uint64_t ino, uint64_t size, int64_t mtime_sec,
                        long mtime_nsec)
{
    uint64_t mtime_ns = (uint64_t)mtime_sec * 1000000000u + (uint64_t)mtime_nsec;
    size_t len = 0;

    put_char(out, cap, &len, '"');
    if (ino) {
        put_hex(out, cap, &len, ino);
        put_char(out, cap, &len, '-');
    }
    put_hex(out, cap, &len, mtime_ns);
    put_char(out, cap, &len, '-');
    put_hex(out, cap, &len, size);
    put_char(out, cap, &len, '"');
    if (len < cap)
        out[len] = '\0';
    else if (cap > 0)
        out[0] = '\0';
    return len;
}

/* An entity-tag: the opaque-tag keeps its quotes. */
struct etag {
    bool weak;
    const char *opaque;
    size_t len;
};

static bool etagc(unsigned char c) { return c == 0x21 || (c >= 0x23 && c != 0x7f); }

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, at s[*i]. */
static bool scan_etag(const char *s, size_t len, size_t *i, struct etag *t)
{
    size_t k = *i;

    t->weak = len - k >= 2 && s[k] == 'W' && s[k + 1] == '/';
    if (t->weak)
        k += 2;
    if (k >= len || s[k] != '"')
        return false;
    t->opaque = s + k;
    for (k++; k < len && etagc((unsigned char)s[k]); k++)
        ;
    if (k >= len || s[k] != '"')
        return false;
    t->len = (size_t)(s + k + 1 - t->opaque);
    *i = k + 1;
    return true;
}

static bool etag_equal(const struct etag *a, const struct etag *b, bool strong)
{
    if (strong && (a->weak || b->weak))
        return false;
    return a->len == b->len && memcmp(a->opaque, b->opaque, a->len) == 0;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* True when the field value is "*" (with optional OWS). */
static bool is_star(const char *v, size_t len)
{
    size_t i = 0;

    while (len > 0 && is_ows(v[len - 1]))
        len--;
    while (i < len && is_ows(v[i]))
        i++;
    return len - i == 1 && v[i] == '*';
}

/* True when an element of the #entity-tag list v matches ours. */
static bool list_matches(const char *v, size_t len, const struct etag *ours, bool strong)
{
    size_t i = 0;

    for (;;) {
        struct etag t;

        while (i < len && (is_ows(v[i]) || v[i] == ','))
            i++;
        if (i == len || !scan_etag(v, len, &i, &t))
            return false;
        if (etag_equal(&t, ours, strong))
            return true;
        while (i < len && is_ows(v[i]))
            i++;
        if (i < len && v[i] != ',')
            return false;
    }
}

/* Parses the representation's own ETag; false when it has none or it is malformed. */
static bool own_etag(const char *etag, size_t etag_len, struct etag *t)
{
    size_t i = 0;

    return etag && scan_etag(etag, etag_len, &i, t) && i == etag_len;
}

/* True when the If-Match / If-None-Match value v is "*" or lists a tag
 * matching etag: If-Match holds, If-None-Match fails. */
static bool matches_any(const char *v, size_t len, const char *etag, size_t etag_len, bool strong)
{
    struct etag ours;

    if (is_star(v, len))
        return true; /* the representation exists */
    return own_etag(etag, etag_len, &ours) && list_matches(v, len, &ours, strong);
}

/* The date of a field, false when absent or invalid (then ignored). */
static bool field_date(const char *v, size_t len, int64_t *t)
{
    return v && len > 0 && http_date_parse(v, len, t) == 0;
}

enum cond_result cond_evaluate(const struct cond_request *r, const char *etag, size_t etag_len,
                               int64_t mtime)
{
    bool has_if_match = r->if_match && r->if_match_len > 0;
    bool has_if_none_match = r->if_none_match && r->if_none_match_len > 0;
    int64_t date;

    if (has_if_match) {
        if (!matches_any(r->if_match, r->if_match_len, etag, etag_len, true))
            return COND_PRECONDITION_FAILED;
    } else if (field_date(r->if_unmodified_since, r->if_unmodified_since_len, &date) &&
               mtime > date) {
        return COND_PRECONDITION_FAILED;
    }
    if (has_if_none_match) {
        if (matches_any(r->if_none_match, r->if_none_match_len, etag, etag_len, false))
            return r->get_or_head ? COND_NOT_MODIFIED : COND_PRECONDITION_FAILED;
    } else if (r->get_or_head &&
               field_date(r->if_modified_since, r->if_modified_since_len, &date) && mtime <= date) {
        return COND_NOT_MODIFIED;
    }
    return COND_PROCEED;
}

bool cond_if_range(const char *value, size_t len, const char *etag, size_t etag_len, int64_t mtime)
{
    struct etag theirs, ours;
    size_t i = 0;
    int64_t date;

    if (!value || len == 0)
        return true;
    if (value[0] == '"' || (len >= 2 && value[0] == 'W' && value[1] == '/')) {
        if (!scan_etag(value, len, &i, &theirs) || i != len)
            return false;
        return own_etag(etag, etag_len, &ours) && etag_equal(&theirs, &ours, true);
    }
    return http_date_parse(value, len, &date) == 0 && date == mtime;
}
