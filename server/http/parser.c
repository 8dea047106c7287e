/* parser.c - HTTP/1.1 request heads and bodies: our checks around strict llhttp.
 *
 * A head is handled in four passes, each cheap and each able to refuse:
 *   1. scan: bytes as they arrive, once each, for the end of the head, NUL,
 *      bare CR or LF, and the max_header_size cap (414/431);
 *   2. lines: the request line (method, single spaces, HTTP/d.d: 400, 505,
 *      501) and every field line (obs-fold, leading colon, whitespace before
 *      the colon: 400; the field count: 431), recording name/value spans;
 *   3. llhttp, strict, over the request line, the field lines its framing
 *      and connection state depend on, and the end of the head; every
 *      other field line is held in pass 2 to what strict llhttp accepts
 *      (a token name, field-vchar values), so no byte is parsed twice.
 *      A head whose request line llhttp certainly accepts
 *      (llhttp_only_confirms) and whose only such lines are Connection
 *      and Proxy-Connection, judged in pass 2 too (llhttp_decides), skips
 *      this pass, and llhttp is initialised only when it is to be fed;
 *   4. RFC 9112 §3.2, §3.3, §6.1-6.3 and §9.3 (parser_rules.c): Host,
 *      request-target form, framing (Content-Length and Transfer-Encoding,
 *      cross-checked with what llhttp decided), Expect, Connection.
 * Policy beyond the RFC text: several Content-Length fields, even equal ones
 * ("5, 5" or two "5" lines), are refused with 400 as nginx does; any
 * transfer coding list other than exactly "chunked" answers 501, except
 * "chunked" followed by another coding or repeated, which llhttp refuses as
 * 400 (RFC 9112 §6.3); HTTP/1.x with x above 1 is served as HTTP/1.1
 * (RFC 9110 §2.5, RFC 9112 §2.3), every other version but 1.0 answers 505; an
 * absolute-form target must be http:// or https:// without userinfo.
 *
 * Bodies go through the same llhttp instance, resumed after the head; every
 * callback that ends a step (a body span, a chunk header, a chunk end, the
 * message end) pauses llhttp, so each execute covers one step and the bytes
 * it consumed can be attributed: chunk lines are capped at CHUNK_LINE_MAX
 * and trailers at max_header_size, both scanned for bare LF (llhttp 8.1
 * accepts "0\r\n\n" as the end of a chunked body). */
#include "http/parser.h"
#include "http/parser_internal.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Longest chunk-size line (size, extensions, CRLF) accepted. */
#define CHUNK_LINE_MAX 4096

/* Positions in headers[] and kinds are kept in bytes and bits. */
_Static_assert(HTTP_MAX_HEADERS <= 256, "field_first holds a uint8_t position");
_Static_assert(HTTP_F_COUNT <= 32, "fields_seen holds a bit per kind");

enum body_phase { PHASE_LINE, PHASE_DATA, PHASE_TRAILER, PHASE_DONE };
enum body_step { STEP_AGAIN, STEP_MORE, STEP_SPAN, STEP_DONE };

/* ---- character classes ---- */

/* tchar (RFC 9110 §5.6.2) as a bitmap: bit c of the 256, one load and a
 * shift per byte. */
const uint64_t http_tchar_bits[4] = {
    UINT64_C(0x03ff6cfa00000000), /* ! # $ % & ' * + - . 0-9 */
    UINT64_C(0x57ffffffc7fffffe), /* A-Z ^ _ ` a-z | ~ */
    0,
    0,
};

static bool is_tchar(unsigned char c) { return http_is_tchar(c); }

static int parser_fail(struct http_parser *p, int status)
{
    p->error_status = status;
    return -status;
}

/* ---- llhttp callbacks ---- */

static int on_headers_complete(llhttp_t *ll)
{
    (void)ll;
    return HPE_PAUSED;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = ll->data;

    if (len == 0)
        return 0;
    p->body_out = at;
    p->body_out_len = len;
    p->body_received += len;
    return HPE_PAUSED;
}

static int on_chunk_header(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    uint64_t size = ll->content_length;
    uint64_t max = p->limits->max_body_size;

    if (size > max - p->body_received) {
        p->error_status = 413;
        return -1;
    }
    p->body_phase = size == 0 ? PHASE_TRAILER : PHASE_DATA;
    return HPE_PAUSED;
}

static int on_chunk_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;

    p->body_phase = p->body_phase == PHASE_TRAILER ? PHASE_DONE : PHASE_LINE;
    return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;

    p->message_complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
    .on_message_complete = on_message_complete,
};

/* ---- pass 1: the byte scan ---- */

static uint64_t load64(const char *s)
{
    uint64_t w;

    memcpy(&w, s, sizeof w);
    return w;
}

/* Whether c is outside 0x20-0x7e: a control byte (CR, LF and NUL among
 * them), DEL or obs-text. */
static bool is_odd(unsigned char c) { return c < 0x20 || c > 0x7e; }

/* The first index from i below win whose byte is odd (is_odd): every CR,
 * LF and NUL, and the tabs and other such bytes that the scan then notes
 * (head_odd) and passes over. Eight bytes a step where loads are
 * little-endian: in a word w, (w - 0x20..) & ~w flags a byte below 0x20
 * and (w + 0x01..) | w one above 0x7e, each in the byte's high bit; the
 * lowest flagged byte is exact (a borrow or a carry only ever comes out
 * of a byte that is flagged itself, and flags the bytes above it). With
 * SSE2 (every x86-64), sixteen bytes a step first: a signed compare below
 * 0x20 flags the control bytes and obs-text (negative as signed), one for
 * equality flags DEL. */
static size_t skip_plain(const char *buf, size_t i, size_t win)
{
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);

    for (; i + 16 <= win; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)));

        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

    for (; i + 8 <= win; i += 8) {
        uint64_t w = load64(buf + i);
        uint64_t m = (((w - ones * 0x20) & ~w) | (w + ones) | w) & highs;

        if (m != 0)
            return i + (size_t)__builtin_ctzll(m) / 8;
    }
#endif
    while (i < win && !is_odd((unsigned char)buf[i]))
        i++;
    return i;
}

/* The lines of a started head from buf[*at..win): runs of plain bytes
 * skipped (skip_plain), each CR judged once the byte after it is in the
 * window. Records where the request line ends (line_end) and where each
 * later line's CR is (line_cr, as many as it holds: more lines than
 * max_headers allows are refused anyway); notes in head_odd an odd byte
 * other than CR and LF (a tab, obs-text, or a byte that no field value may
 * hold: without one, every field value is valid). Returns the head length
 * once its empty line is in, -400, or 0 with *at where to go on. */
static long scan_lines(struct http_parser *p, const char *buf, size_t *at, size_t win)
{
    unsigned lines = p->lines;
    size_t i = *at;
    long end = 0;

    for (;;) {
        i = skip_plain(buf, i, win);
        if (i == win)
            break;
        if (buf[i] == '\r') {
            if (i + 1 >= win)
                break;
            if (buf[i + 1] != '\n')
                return -400;
            if (p->line_end == 0) {
                p->line_end = i + 2;
            } else {
                if (lines < HTTP_MAX_HEADERS + 1)
                    p->line_cr[lines++] = (uint32_t)i;
                if (buf[i - 1] == '\n') { /* an empty line: the head's end */
                    end = (long)(i + 2);
                    break;
                }
            }
            i += 2;
        } else if (buf[i] == '\n' || buf[i] == '\0') {
            return -400; /* NUL, or LF not after a CR (that one was taken with its CR) */
        } else {
            p->head_odd = true;
            i++;
        }
    }
    p->lines = lines;
    *at = i;
    return end;
}

/* Scans buf[p->scanned..) within the max_header_size window: leading empty
 * lines (CRLF), skipped, then the head's lines (scan_lines). Returns the
 * head length once its final CRLFCRLF is in, 0 for more, or -status. A CR
 * is judged only when the byte after it is inside the window, so feeding
 * the bytes in any split gives the same answer. A head that reaches the
 * line pass is below INT_MAX bytes, so the offsets it records fit. */
static long head_scan(struct http_parser *p, const char *buf, size_t len)
{
    size_t max = p->limits->max_header_size;
    size_t win = len < max ? len : max;
    size_t i = p->scanned;

    while (!p->head_started && i < win) {
        char c = buf[i];

        if (c == '\r') {
            if (i + 1 >= win)
                break;
            if (buf[i + 1] != '\n')
                return -400;
            i += 2;
        } else if (c == '\n' || c == '\0') {
            return -400;
        } else {
            p->head_started = true;
            p->head_start = i++;
            p->head_odd = is_odd((unsigned char)c);
        }
    }
    if (p->head_started) {
        long end = scan_lines(p, buf, &i, win);

        if (end != 0)
            return end;
    }
    p->scanned = i;
    if (len >= max)
        return p->line_end ? -431 : -414;
    return 0;
}

/* ---- pass 2: the request line and the field lines ---- */

static bool method_known(struct http_span name)
{
    int m;

    if (name.len == 3 && memcmp(name.p, "GET", 3) == 0)
        return true; /* most requests, without a walk through llhttp's names */
    for (m = HTTP_DELETE; m <= HTTP_SOURCE; m++) {
        const char *s = llhttp_method_name((llhttp_method_t)m);

        if (strlen(s) == name.len && memcmp(s, name.p, name.len) == 0)
            return true;
    }
    return false;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT; 400 when malformed, 505 when the
 * major version is not 1. A higher minor version than 1 is the highest one
 * we implement, 1.1 (RFC 9110 §2.5, RFC 9112 §2.3). */
static int parse_version(struct http_span v, struct http_request *req)
{
    if (v.len != 8 || memcmp(v.p, "HTTP/", 5) != 0 || !is_digit((unsigned char)v.p[5]) ||
        v.p[6] != '.' || !is_digit((unsigned char)v.p[7]))
        return 400;
    req->version_major = (uint8_t)(v.p[5] - '0');
    req->version_minor = (uint8_t)(v.p[7] - '0');
    if (req->version_major != 1)
        return 505;
    if (req->version_minor > 1)
        req->version_minor = 1;
    return 0;
}

/* The first byte of s[0..end) equal to a, b or c, or end. Eight bytes a
 * step where loads are little-endian: (x - 0x01..) & ~x flags the zero
 * bytes of x = w ^ a.. in their high bits, the lowest flagged byte exact
 * (a borrow only flags the bytes above the one it comes from). */
static const char *find_any3(const char *s, const char *end, unsigned char a, unsigned char b,
                             unsigned char c)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

    for (; end - s >= 8; s += 8) {
        uint64_t w = load64(s), x = w ^ (ones * a), y = w ^ (ones * b), z = w ^ (ones * c);
        uint64_t m = (((x - ones) & ~x) | ((y - ones) & ~y) | ((z - ones) & ~z)) & highs;

        if (m != 0)
            return s + __builtin_ctzll(m) / 8;
    }
#endif
    for (; s < end; s++)
        if ((unsigned char)*s == a || (unsigned char)*s == b || (unsigned char)*s == c)
            return s;
    return end;
}

/* request-line = method SP request-target SP HTTP-version, single spaces.
 * The walk that finds the target's end also finds its first '?' and '#':
 * an origin-form target is split there into req->path and req->query
 * (RFC 9112 §3.2.1; a fragment is dropped). */
static int parse_request_line(const char *s, const char *eol, struct http_request *req)
{
    const char *sp1 = s, *t, *q = NULL, *frag, *sp2;
    int status;

    if (eol - s > 4 && memcmp(s, "GET ", 4) == 0)
        sp1 = s + 3; /* most requests, without a walk */
    else
        while (sp1 < eol && is_tchar((unsigned char)*sp1))
            sp1++;
    if (sp1 == s || sp1 == eol || *sp1 != ' ')
        return 400;
    t = sp1 + 1;
    frag = find_any3(t, eol, ' ', '?', '#');
    if (frag < eol && *frag == '?') {
        q = frag;
        frag = find_any3(q + 1, eol, ' ', '#', '#');
    }
    sp2 = frag < eol && *frag == '#' ? memchr(frag, ' ', (size_t)(eol - frag)) : frag;
    if (sp2 == NULL || sp2 == eol || sp2 == t)
        return 400;
    req->method_name = span_of(s, sp1);
    req->target = span_of(t, sp2);
    if (*t == '/') {
        req->path = span_of(t, q ? q : frag);
        req->query = q ? span_of(q + 1, frag) : (struct http_span){.p = frag, .len = 0};
    }
    status = parse_version(span_of(sp2 + 1, eol), req);
    if (status != 0)
        return status;
    return method_known(req->method_name) ? 0 : 501;
}

/* The names of the indexed fields, lower case. */
static const char *const field_names[HTTP_F_COUNT] = {
    [HTTP_F_HOST] = "host",
    [HTTP_F_CONTENT_LENGTH] = "content-length",
    [HTTP_F_TRANSFER_ENCODING] = "transfer-encoding",
    [HTTP_F_CONNECTION] = "connection",
    [HTTP_F_PROXY_CONNECTION] = "proxy-connection",
    [HTTP_F_UPGRADE] = "upgrade",
    [HTTP_F_EXPECT] = "expect",
    [HTTP_F_ACCEPT] = "accept",
    [HTTP_F_ACCEPT_ENCODING] = "accept-encoding",
    [HTTP_F_IF_MATCH] = "if-match",
    [HTTP_F_IF_NONE_MATCH] = "if-none-match",
    [HTTP_F_IF_MODIFIED_SINCE] = "if-modified-since",
    [HTTP_F_IF_UNMODIFIED_SINCE] = "if-unmodified-since",
    [HTTP_F_IF_RANGE] = "if-range",
    [HTTP_F_RANGE] = "range",
    [HTTP_F_AUTHORIZATION] = "authorization",
    [HTTP_F_CONTENT_TYPE] = "content-type",
    [HTTP_F_REFERER] = "referer",
    [HTTP_F_USER_AGENT] = "user-agent",
    [HTTP_F_X_FORWARDED_FOR] = "x-forwarded-for",
    [HTTP_F_FORWARDED] = "forwarded",
};

/* The indexed kinds by name length (at most two share one), so that a
 * name is compared with one or two candidates only. */
#define FIELD_NAME_MAX 19
static const uint8_t fields_by_len[FIELD_NAME_MAX + 1][2] = {
    [4] = {HTTP_F_HOST},
    [5] = {HTTP_F_RANGE},
    [6] = {HTTP_F_EXPECT, HTTP_F_ACCEPT},
    [7] = {HTTP_F_UPGRADE, HTTP_F_REFERER},
    [8] = {HTTP_F_IF_MATCH, HTTP_F_IF_RANGE},
    [9] = {HTTP_F_FORWARDED},
    [10] = {HTTP_F_CONNECTION, HTTP_F_USER_AGENT},
    [12] = {HTTP_F_CONTENT_TYPE},
    [13] = {HTTP_F_IF_NONE_MATCH, HTTP_F_AUTHORIZATION},
    [14] = {HTTP_F_CONTENT_LENGTH},
    [15] = {HTTP_F_ACCEPT_ENCODING, HTTP_F_X_FORWARDED_FOR},
    [16] = {HTTP_F_PROXY_CONNECTION},
    [17] = {HTTP_F_TRANSFER_ENCODING, HTTP_F_IF_MODIFIED_SINCE},
    [19] = {HTTP_F_IF_UNMODIFIED_SINCE},
};

/* One word of a name against the same word of a lower-case name of
 * letters and '-': the letters' 0x20 bit is set in the name's bytes
 * (mask: bit 0x40 of each letter, moved to 0x20; '-' has neither), so
 * each letter matches in either case and '-' only itself. */
static bool word_ieq(uint64_t name, uint64_t lower)
{
    return (name | ((lower >> 1) & UINT64_C(0x2020202020202020))) == lower;
}

static uint64_t load32(const char *s)
{
    uint32_t w;

    memcpy(&w, s, sizeof w);
    return w;
}

/* Whether name[0..len) equals the lower-case field name lower (letters
 * and '-', 4 to FIELD_NAME_MAX bytes) ignoring case: a word at a time, the
 * last word overlapping the one before. */
static bool field_name_is(const char *name, const char *lower, size_t len)
{
    size_t off;

    if (len < 8)
        return word_ieq(load32(name), load32(lower)) &&
               word_ieq(load32(name + len - 4), load32(lower + len - 4));
    for (off = 0; off + 8 < len; off += 8)
        if (!word_ieq(load64(name + off), load64(lower + off)))
            return false;
    return word_ieq(load64(name + len - 8), load64(lower + len - 8));
}

/* The kind's name is compared whole only when its first letter matches
 * (every indexed name starts with a letter, whose 0x20 bit makes it lower
 * case): most names of an indexed length are some other field's. */
enum http_field http_field_kind(const char *name, size_t len)
{
    if (len > FIELD_NAME_MAX || len < 4)
        return HTTP_F_OTHER;
    for (unsigned i = 0; i < 2; i++) {
        unsigned k = fields_by_len[len][i];

        if (k != HTTP_F_OTHER && (name[0] | 0x20) == field_names[k][0] &&
            field_name_is(name, field_names[k], len))
            return (enum http_field)k;
    }
    return HTTP_F_OTHER;
}

/* Records headers[i] (its name already split) in the index. */
static enum http_field index_field(struct http_request *req, unsigned i)
{
    enum http_field k = http_field_kind(req->headers[i].name.p, req->headers[i].name.len);

    req->field_kind[i] = (uint8_t)k;
    if (k != HTTP_F_OTHER && !((req->fields_seen >> k) & 1)) {
        req->fields_seen |= UINT32_C(1) << k;
        req->field_first[k] = (uint8_t)i;
    }
    return k;
}

/* The field kinds whose lines llhttp is given when it reads a head: the
 * ones its framing and connection state depend on (llhttp 8.1 reads these
 * five by name). */
static bool llhttp_reads(enum http_field k)
{
    return k == HTTP_F_UPGRADE || k == HTTP_F_CONNECTION || k == HTTP_F_CONTENT_LENGTH ||
           k == HTTP_F_PROXY_CONNECTION || k == HTTP_F_TRANSFER_ENCODING;
}

/* Whether req has a field line that only llhttp can judge: a framing
 * field or Upgrade, which make it read the head. The other two it reads,
 * Connection and Proxy-Connection, set llhttp's connection flags, which
 * it reads only at a message's end (whether to keep the connection) and
 * with an Upgrade field (whether to switch protocols); llhttp is run past
 * a head only to read its body (http_parse_body), and a head without the
 * three has none, so nothing llhttp would do with those flags follows.
 * What strict llhttp 8.1 accepts in their values is what it accepts in
 * any field value: its connection states match the tokens "close",
 * "keep-alive" and "upgrade" between commas and spaces, and take any other
 * byte of HT, SP to '~' and obs-text as part of some other token. */
static bool llhttp_decides(const struct http_request *req)
{
    const uint32_t kinds = UINT32_C(1) << HTTP_F_UPGRADE | UINT32_C(1) << HTTP_F_CONTENT_LENGTH |
                           UINT32_C(1) << HTTP_F_TRANSFER_ENCODING;

    return (req->fields_seen & kinds) != 0;
}

/* Whether s[0..end) holds only what strict llhttp takes in a field value:
 * HT, SP, VCHAR and obs-text (its header_value table). Eight bytes a step
 * where loads are little-endian: a word without a byte below 0x20 or equal
 * to 0x7f passes at once (neither test flags a byte when no such byte is
 * there); the rest is judged byte by byte. */
static bool field_value_valid(const char *s, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

    for (; end - s >= 8; s += 8) {
        uint64_t w, del;

        memcpy(&w, s, sizeof w);
        del = w ^ (ones * 0x7f);
        if ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs)
            break;
    }
#endif
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* The bytes of w that are not ASCII letters, digits or '-' (the bytes of
 * almost every field name, all of them tchars), each as its high bit.
 * Exact per byte: with the high bit of every byte set first (a byte that
 * had it is flagged outright), no subtraction below borrows across a
 * byte, so bit 7 of (x - c..) says x's byte is at least c. */
static uint64_t word_name_misfits(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, h = 0x8080808080808080u;
    uint64_t x = w | h, l = x | (ones * 0x20), y = x ^ (ones * (0x80 | '-'));
    uint64_t letter = (l - ones * 'a') & ~(l - ones * ('z' + 1));
    uint64_t digit = (x - ones * '0') & ~(x - ones * ('9' + 1));
    uint64_t dash = ~((y | h) - ones);

    return (w | ~(letter | digit | dash)) & h;
}

/* Where the name of the field line at s ends: its first byte that is not
 * a tchar (RFC 9110 §5.6.2), the colon when the name is valid; eol, the
 * line's CR, at the latest. Eight bytes a step where loads are
 * little-endian (while end, the head's end, is that far), up to the first
 * byte that is not a letter, digit or '-'; from there byte by byte. */
static const char *field_name_end(const char *s, const char *eol, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; end - s >= 8; s += 8) {
        uint64_t m = word_name_misfits(load64(s));

        if (m != 0) {
            s += __builtin_ctzll(m) / 8;
            break;
        }
    }
#endif
    while (s < eol && is_tchar((unsigned char)*s))
        s++;
    return s;
}

/* Field lines from s to the empty line ending the head (the scan made every
 * line end in CRLF, and recorded where) of buf into req->headers, values
 * trimmed; *ll_lines counts the ones llhttp is to be given (llhttp_reads).
 * Any other line, and a Connection or Proxy-Connection line unless llhttp
 * is to read every head, is checked here as llhttp would (a field value
 * only when the scan saw an odd byte in the head); the first such refusal
 * counts after the structural ones (400, 431) of every line, as when
 * llhttp ran after this pass. */
static int split_field_lines(const struct http_parser *p, const char *buf, const char *s,
                             const char *end, struct http_request *req, unsigned *ll_lines)
{
    unsigned max =
        p->limits->max_headers < HTTP_MAX_HEADERS ? p->limits->max_headers : HTTP_MAX_HEADERS;
    const uint32_t *cr = p->line_cr;
    unsigned recorded = p->lines;
    bool chars_ok = true;

    for (unsigned k = 0; s < end; k++) {
        const char *eol = k < recorded ? buf + cr[k] : memchr(s, '\r', (size_t)(end - s));
        const char *name_end, *colon;
        struct http_header *h;
        enum http_field kind;

        if (eol == NULL)
            return 400;
        if (eol == s)
            break;
        if (is_ows(*s) || *s == ':')
            return 400; /* obs-fold, or an empty field name */
        name_end = field_name_end(s, eol, end);
        colon = *name_end == ':' ? name_end : memchr(name_end, ':', (size_t)(eol - name_end));
        if (colon == NULL || is_ows(colon[-1]))
            return 400;
        if (req->header_count >= max)
            return 431;
        h = &req->headers[req->header_count];
        h->name = span_of(s, colon);
        h->value = span_trim(span_of(colon + 1, eol));
        kind = index_field(req, req->header_count++);
        if (!llhttp_reads(kind)) { /* a token name, and a valid value */
            chars_ok = chars_ok && name_end == colon &&
                       (!p->head_odd || field_value_valid(colon + 1, eol));
        } else {
            (*ll_lines)++;
            if ((kind == HTTP_F_CONNECTION || kind == HTTP_F_PROXY_CONNECTION) &&
                !p->llhttp_always && p->head_odd) /* the name is valid, being one of these */
                chars_ok = chars_ok && field_value_valid(colon + 1, eol);
        }
        s = eol + 2;
    }
    return chars_ok ? 0 : 400;
}

/* ---- pass 3: llhttp over what it needs of the head ---- */

/* Readies llhttp for the request when it is to be fed the first time: a
 * head it only confirms never pays for its initialisation. */
static void llhttp_start(struct http_parser *p)
{
    if (!p->ll_ready) {
        llhttp_init(&p->llhttp, HTTP_REQUEST, &parser_settings);
        p->llhttp.data = p;
        p->ll_ready = true;
    }
}

/* Whether every byte of s[0..end) is in 0x21-0x7e and none is '#'. Eight
 * bytes a step: in a word w, (w - 0x21..) & ~w flags a byte below 0x21,
 * (w + 0x01..) | w one above 0x7e, and (x - 0x01..) & ~x with
 * x = w ^ '#'.. a '#', each in the byte's high bit; a borrow or a carry
 * only ever comes out of a byte that is flagged itself, so a clean word
 * has no flag. */
static bool target_plain(const char *s, const char *end)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

    for (; end - s >= 8; s += 8) {
        uint64_t w, x;

        memcpy(&w, s, sizeof w);
        x = w ^ (ones * '#');
        if ((((w - ones * 0x21) & ~w) | (w + ones) | w | ((x - ones) & ~x)) & highs)
            return false;
    }
    for (; s < end; s++)
        if ((unsigned char)(*s - 0x21) >= 0x7f - 0x21 || *s == '#')
            return false;
    return true;
}

/* Whether strict llhttp 8.1 certainly accepts a request line that
 * parse_request_line accepted, when no field line needs llhttp
 * (llhttp_decides):
 * the method GET or HEAD, an origin-form target of bytes its url_path and
 * url_query states take (0x21 to 0x7e; '?' starts the query, where a
 * second '?' is one of them), '#' (a fragment) excepted, and the
 * version our pass checked (1.0 or 1.1 to llhttp). llhttp then reads the
 * request line's CRLF, any Connection and Proxy-Connection lines, and
 * the head's empty line, and pauses at the head's end, having counted no
 * length and set no flag but the connection ones; anything else goes
 * through llhttp. */
static bool llhttp_only_confirms(const struct http_parser *p, const struct http_request *req)
{
    const struct http_span m = req->method_name, t = req->target;

    if (!((m.len == 3 && memcmp(m.p, "GET", 3) == 0) ||
          (m.len == 4 && memcmp(m.p, "HEAD", 4) == 0)))
        return false;
    if (t.p[0] != '/')
        return false;
    if (p->head_odd)
        return target_plain(t.p + 1, t.p + t.len);
    /* Every byte is in 0x20-0x7e and no space is inside the target: it is
     * plain unless it has a fragment, that is unless its query (or the
     * empty query after its path) ends before it does. */
    return req->query.p + req->query.len == t.p + t.len;
}

/* One piece of the head to llhttp, which must take it whole. */
static bool llhttp_feed(struct http_parser *p, const char *s, const char *end)
{
    return llhttp_execute(&p->llhttp, s, (size_t)(end - s)) == HPE_OK;
}

/* llhttp over the request line, then the ll_lines field lines it reads
 * (llhttp_reads), then the empty line ending the head at end: every byte
 * of the head is read once by llhttp or by split_field_lines. llhttp 8.1
 * refuses HTTP/1.x above 1.1: when minor is not NULL it points at the
 * minor version digit of the request line, and llhttp reads a '1' there
 * instead (the version the request is served as); the bytes around it
 * stay where they are. */
static int run_llhttp_head(struct http_parser *p, const char *s, const char *line_end,
                           const char *minor, const struct http_request *req, unsigned ll_lines,
                           const char *end)
{
    llhttp_errno_t err;

    llhttp_start(p);
    if (minor != NULL) {
        static const char one[] = "1";

        if (!llhttp_feed(p, s, minor) || !llhttp_feed(p, one, one + 1))
            return 400;
        s = minor + 1;
    }
    if (!llhttp_feed(p, s, line_end))
        return 400;
    for (unsigned i = 0; ll_lines > 0; i++) {
        const struct http_header *h = &req->headers[i];
        const char *eol = h->value.p + h->value.len;

        if (!llhttp_reads(req->field_kind[i]))
            continue;
        ll_lines--;
        while (*eol != '\r')
            eol++; /* past trailing whitespace to the line's CRLF */
        if (!llhttp_feed(p, h->name.p, eol + 2))
            return 400;
    }
    err = llhttp_execute(&p->llhttp, end - 2, 2);
    if (err != HPE_PAUSED || llhttp_get_error_pos(&p->llhttp) != end)
        return 400;
    llhttp_resume(&p->llhttp);
    return 0;
}

/* ---- the head ---- */

static void request_clear(struct http_request *req)
{
    req->method = HTTP_GET;
    req->method_name = req->target = req->path = req->query = req->host =
        (struct http_span){.p = NULL, .len = 0};
    req->version_major = req->version_minor = 0;
    req->content_length = -1;
    req->chunked = req->keep_alive = req->expect_continue = req->upgrade = false;
    req->head_len = 0;
    req->header_count = 0;
    req->fields_seen = 0;
}

static int parse_complete_head(struct http_parser *p, const char *buf, size_t head_len,
                               struct http_request *req)
{
    const char *line = buf + p->head_start, *end = buf + head_len;
    const char *line_eol = buf + p->line_end - 2;
    const char *minor = line_eol - 1; /* the version's minor digit */
    unsigned ll_lines = 0;
    int status;

    request_clear(req);
    p->req = req;
    status = parse_request_line(line, line_eol, req);
    if (status == 0)
        status = split_field_lines(p, buf, line_eol + 2, end, req, &ll_lines);
    if (status != 0)
        return status;
    if (!llhttp_decides(req) && !p->llhttp_always && llhttp_only_confirms(p, req)) {
        req->method = req->method_name.len == 3 ? HTTP_GET : HTTP_HEAD;
    } else {
        status =
            run_llhttp_head(p, line, line_eol + 2, *minor - '0' > req->version_minor ? minor : NULL,
                            req, ll_lines, end);
        if (status != 0)
            return status;
        req->method = (llhttp_method_t)llhttp_get_method(&p->llhttp);
    }
    req->head_len = head_len;
    return http_head_check_fields(p, req);
}

int http_parse_head(struct http_parser *p, const char *buf, size_t len, struct http_request *req)
{
    long end;
    int status;

    if (p->error_status != 0)
        return -p->error_status;
    if (p->head_done)
        return (int)p->req->head_len;
    if (len < p->scanned) /* the caller dropped bytes: start over */
        http_parser_reset(p);
    end = head_scan(p, buf, len);
    if (end <= 0)
        return end < 0 ? parser_fail(p, (int)-end) : 0;
    if (end > INT_MAX)
        return parser_fail(p, 431);
    status = parse_complete_head(p, buf, (size_t)end, req);
    if (status != 0)
        return parser_fail(p, status);
    p->head_done = true;
    p->body_phase = req->chunked ? PHASE_LINE : PHASE_DATA;
    return (int)end;
}

/* ---- the body ---- */

/* Bounds and checks the framing bytes llhttp consumed in one step of the
 * given phase, a chunk line (size, extensions) or the trailer section; the
 * count starts again when the step moved to another phase. */
static int frame_account(struct http_parser *p, int phase, const char *s, size_t n)
{
    size_t cap = phase == PHASE_LINE ? CHUNK_LINE_MAX : p->limits->max_header_size;
    size_t i;

    if (phase == PHASE_LINE || phase == PHASE_TRAILER) {
        if (n > cap - p->frame_bytes)
            return phase == PHASE_LINE ? 400 : 431;
        p->frame_bytes += n;
        for (i = 0; i < n; i++) {
            if (s[i] == '\0' || (s[i] == '\n' && !p->frame_prev_cr))
                return 400;
            p->frame_prev_cr = s[i] == '\r';
        }
    }
    if (p->body_phase != phase) {
        p->frame_bytes = 0;
        p->frame_prev_cr = false;
    }
    return 0;
}

/* One llhttp step over s[0..n): up to the next pause or the end of input. */
static int body_step(struct http_parser *p, const char *s, size_t n, size_t *used)
{
    int phase = p->body_phase;
    llhttp_errno_t err;
    const char *at;
    int status;

    p->body_out_len = 0;
    err = llhttp_execute(&p->llhttp, s, n);
    at = err == HPE_OK ? s + n : llhttp_get_error_pos(&p->llhttp);
    *used = at >= s && at <= s + n ? (size_t)(at - s) : 0;
    status = frame_account(p, phase, s, *used);
    if (err != HPE_OK && err != HPE_PAUSED) {
        /* The bytes before the error count first, as if they had come
         * alone: the answer must not depend on how the input was split. */
        if (status == 0)
            status = p->error_status != 0 ? p->error_status : 400;
        return parser_fail(p, status);
    }
    if (status != 0)
        return parser_fail(p, status);
    if (err == HPE_OK)
        return STEP_MORE;
    llhttp_resume(&p->llhttp);
    if (p->message_complete)
        return STEP_DONE;
    return p->body_out_len > 0 ? STEP_SPAN : STEP_AGAIN;
}

int http_parse_body(struct http_parser *p, const char *in, size_t in_len, size_t *consumed,
                    const char **out, size_t *out_len)
{
    size_t off = 0, used = 0;
    int step = STEP_AGAIN;

    *consumed = 0;
    *out = in;
    *out_len = 0;
    if (p->error_status != 0)
        return -p->error_status;
    if (!p->head_done)
        return parser_fail(p, 500);
    if (p->message_complete || !http_request_has_body(p->req))
        return 1;
    if (!p->ll_ready) /* a body needs a framing field, which llhttp read */
        return parser_fail(p, 500);
    p->llhttp.data = p;
    while (step == STEP_AGAIN) {
        used = 0;
        step = body_step(p, in + off, in_len - off, &used);
        off += used;
    }
    if (step < 0)
        return step;
    *consumed = off;
    if (step == STEP_SPAN) {
        *out = p->body_out;
        *out_len = p->body_out_len;
    }
    return step == STEP_DONE ? 1 : 0;
}

/* ---- the rest of the interface ---- */

bool http_request_has_body(const struct http_request *req)
{
    return req->chunked || req->content_length > 0;
}

const struct http_header *http_request_header(const struct http_request *req, const char *name,
                                              size_t name_len)
{
    unsigned i;

    for (i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];

        if (h->name.len == name_len && ascii_ieq(h->name.p, name, name_len))
            return h;
    }
    return NULL;
}

const struct http_header *http_request_header_named(const struct http_request *req,
                                                    const char *name)
{
    for (unsigned i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        size_t k = 0;

        while (k < h->name.len && name[k] != '\0' && ascii_ieq(h->name.p + k, name + k, 1))
            k++;
        if (k == h->name.len && name[k] == '\0')
            return h;
    }
    return NULL;
}

void http_request_index(struct http_request *req)
{
    req->fields_seen = 0;
    for (unsigned i = 0; i < req->header_count; i++)
        index_field(req, i);
}

void http_parser_init(struct http_parser *p, const struct http_limits *limits)
{
    p->limits = limits;
    p->llhttp_always = false;
    http_parser_reset(p); /* llhttp and line_cr are written before they are read */
}

void http_parser_reset(struct http_parser *p)
{
    memset(p, 0, offsetof(struct http_parser, llhttp));
}

void http_parser_always_llhttp(struct http_parser *p, bool on) { p->llhttp_always = on; }

void http_parser_set_limits(struct http_parser *p, const struct http_limits *limits)
{
    p->limits = limits;
}
