/* url.c - request paths: decoding and normalisation, percent-encoding, HTML escaping. */
#include "http/url.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the escape at in[i] ('%'); returns the byte or -1 when malformed. */
static int decode_escape(const char *in, size_t len, size_t i)
{
    int hi, lo;

    if (len - i < 3)
        return -1;
    hi = hex_value((unsigned char)in[i + 1]);
    lo = hex_value((unsigned char)in[i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi << 4 | lo;
}

static bool path_byte_refused(unsigned char c) { return c < 0x20 || c == 0x7f || c == '\\'; }

/* How a normalisation treats an encoded slash, and whether it may take a
 * plain path in one pass. */
struct norm_state {
    bool keep_encoded_slash; /* copy "%2F" through instead of refusing it */
    bool encoded_slash;      /* one was seen */
    bool whole_walk;         /* never plain_path (url_normalize_path_full) */
    bool dot_segment;        /* a kept segment started with '.' */
};

/* The bytes a path segment cannot copy as they are: controls, DEL and
 * '\\' (refused), '%' (an escape) and '/' (the segment's end); one load
 * and a shift per byte, as http_tchar_bits in parser.c. */
static const uint64_t segment_special[4] = {
    UINT64_C(0x00008020ffffffff), /* 0x00-0x1f % / */
    UINT64_C(0x8000000010000000), /* \\ DEL */
    0,
    0,
};

/* Decodes one segment, from path[*i] up to the next raw '/' or the end,
 * appending it to out at *o. Returns 0 or -400. The positions are kept in
 * locals: a store through out (a char pointer) could otherwise alias *i
 * and *o and force both back to memory at every byte. */
static int decode_segment(const char *path, size_t len, size_t *i, char *out, size_t *o,
                          struct norm_state *st)
{
    size_t in = *i, at = *o;

    while (in < len) {
        unsigned char c = (unsigned char)path[in];
        int v;

        if (!((segment_special[c >> 6] >> (c & 63)) & 1)) {
            out[at++] = (char)c;
            in++;
            continue;
        }
        if (c != '%')
            break; /* '/' ends the segment; a refused byte fails below */
        v = decode_escape(path, len, in);
        if (v < 0 || (v == '/' && !st->keep_encoded_slash) ||
            (v != '/' && path_byte_refused((unsigned char)v)))
            return -400;
        in += 3;
        if (v == '/') {
            st->encoded_slash = true;
            memcpy(out + at, "%2F", 3);
            at += 3;
        } else {
            out[at++] = (char)v;
        }
    }
    *i = in;
    *o = at;
    return in < len && path[in] != '/' ? -400 : 0;
}

/* How a plain path's bytes are read in one pass: 0 copied as they are,
 * 1 the whole normalisation must look (an escape, a refused byte), 2 a
 * separator or a dot, plain unless a '/' comes before it. */
static const uint8_t plain_class[256] = {
    [0 ... 0x1f] = 1, ['%'] = 1, ['\\'] = 1, [0x7f] = 1, ['/'] = 2, ['.'] = 2,
};

/* The common case, path[0] being '/': a path that normalising leaves as
 * it is (no escape, no refused byte, no empty segment, no segment that
 * starts with '.'), found with one table load per byte and copied whole.
 * Returns its length, or -1 when it is not such a path and the whole
 * normalisation must run. */
static int plain_path(const char *path, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)path;

    for (size_t i = 1; i < len; i++) {
        uint8_t k = plain_class[p[i]];

        if (k && (k == 1 || p[i - 1] == '/'))
            return -1;
    }
    memcpy(out, path, len);
    out[len] = '\0';
    return (int)len;
}

/* The whole normalisation (url.h), past the checks of the arguments. */
static int normalize_full(const char *path, size_t len, char *out, bool *trailing_slash,
                          struct norm_state *st)
{
    size_t i = 1, o = 1;

    out[0] = '/';
    while (i < len) {
        size_t seg;

        if (path[i] == '/') { /* an empty segment: "//" merges */
            i++;
            continue;
        }
        seg = o; /* out[seg - 1] == '/' */
        if (decode_segment(path, len, &i, out, &o, st) < 0)
            return -400;
        if (o - seg == 1 && out[seg] == '.') {
            o = seg;
        } else if (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (seg == 1)
                return -400; /* above the root */
            o = seg - 1;
            while (out[o - 1] != '/')
                o--;
        } else {
            if (out[seg] == '.')
                st->dot_segment = true;
            if (i < len) {
                out[o++] = '/'; /* path[i] is the raw '/' that ended the segment */
                i++;
            }
        }
    }
    out[o] = '\0';
    if (trailing_slash)
        *trailing_slash = out[o - 1] == '/';
    return (int)o;
}

static inline int normalize(const char *path, size_t len, char *out, size_t out_cap,
                            bool *trailing_slash, struct norm_state *st)
{
    int n;

    if (len >= INT_MAX || out_cap < len + 1)
        return -414;
    if (len == 0 || path[0] != '/')
        return -400;
    n = st->whole_walk ? -1 : plain_path(path, len, out);
    if (n < 0)
        return normalize_full(path, len, out, trailing_slash, st);
    if (trailing_slash)
        *trailing_slash = out[n - 1] == '/';
    return n;
}

int url_normalize_path(const char *path, size_t len, char *out, size_t out_cap,
                       bool *trailing_slash)
{
    struct norm_state st = {.keep_encoded_slash = false};

    return normalize(path, len, out, out_cap, trailing_slash, &st);
}

int url_normalize_path_route(const char *path, size_t len, char *out, size_t out_cap,
                             bool *trailing_slash, bool *encoded_slash, bool *dot_segment)
{
    struct norm_state st = {.keep_encoded_slash = true};
    int n = normalize(path, len, out, out_cap, trailing_slash, &st);

    *encoded_slash = n >= 0 && st.encoded_slash;
    *dot_segment = n >= 0 && st.dot_segment;
    return n;
}

int url_normalize_path_full(const char *path, size_t len, char *out, size_t out_cap,
                            bool *trailing_slash, bool *encoded_slash, bool *dot_segment)
{
    struct norm_state st = {.keep_encoded_slash = encoded_slash != NULL, .whole_walk = true};
    int n = normalize(path, len, out, out_cap, trailing_slash, &st);

    if (encoded_slash)
        *encoded_slash = n >= 0 && st.encoded_slash;
    if (dot_segment)
        *dot_segment = n >= 0 && st.dot_segment;
    return n;
}

int url_percent_decode(const char *in, size_t len, char *out, size_t out_cap, bool plus_as_space)
{
    size_t i = 0, o = 0;

    if (len >= INT_MAX || out_cap < len + 1)
        return -414;
    while (i < len) {
        char c = in[i];

        if (c == '%') {
            int v = decode_escape(in, len, i);

            if (v < 0)
                return -400;
            c = (char)v;
            i += 3;
        } else {
            if (c == '+' && plus_as_space)
                c = ' ';
            i++;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}

/* Appends piece[0..n) to out when the whole piece and a NUL still fit;
 * once a piece does not fit, nothing more is written (*full). */
static void append_piece(char *out, size_t out_cap, size_t *o, bool *full, const char *piece,
                         size_t n)
{
    if (!*full && *o + n < out_cap) {
        memcpy(out + *o, piece, n);
        *o += n;
    } else {
        *full = true;
    }
}

static const char *html_entity(char c)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default: return NULL;
    }
}

size_t url_html_escape(const char *in, size_t len, char *out, size_t out_cap)
{
    size_t need = 0, o = 0;
    bool full = false;

    for (size_t i = 0; i < len; i++) {
        const char *e = html_entity(in[i]);
        size_t n = e ? strlen(e) : 1;

        append_piece(out, out_cap, &o, &full, e ? e : in + i, n);
        need += n;
    }
    if (out_cap > 0)
        out[o] = '\0';
    return need;
}

static bool path_byte_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '/';
}

size_t url_percent_encode_path(const char *in, size_t len, char *out, size_t out_cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = 0, o = 0;
    bool full = false;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if (path_byte_unreserved(c)) {
            append_piece(out, out_cap, &o, &full, in + i, 1);
            need += 1;
        } else {
            append_piece(out, out_cap, &o, &full, esc, 3);
            need += 3;
        }
    }
    if (out_cap > 0)
        out[o] = '\0';
    return need;
}
