/* proxy_msg.c - the proxy's messages: the request rebuilt for the upstream, its response parsed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "handlers/proxy_internal.h"
#include "http/parser.h"
#include "http/url.h"

/* ---- writing into a bounded buffer ---- */

struct out {
    char *p;
    size_t len, cap;
    bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || o->cap - o->len < n) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_line(struct out *o, const char *name, const char *value, size_t value_len)
{
    puts_(o, name);
    put(o, ": ", 2);
    put(o, value, value_len);
    put(o, "\r\n", 2);
}

/* ---- the target ---- */

int proxy_target(const struct proxy_conf *c, const char *raw_path, size_t raw_path_len,
                 const char *query, size_t query_len, const char *path, size_t path_len,
                 const char *rest, size_t rest_len, char *out, size_t cap)
{
    struct out o = {.p = out, .cap = cap - 1};
    size_t prefix_len = rest >= path && rest < path + path_len ? (size_t)(rest - path) : path_len;

    if (!c->strip_prefix || prefix_len == 0) {
        put(&o, raw_path, raw_path_len);
    } else if (raw_path_len >= prefix_len && memcmp(raw_path, path, prefix_len) == 0) {
        /* the prefix as written: the rest goes as received */
        if (raw_path_len == prefix_len || raw_path[prefix_len] != '/')
            put(&o, "/", 1);
        put(&o, raw_path + prefix_len, raw_path_len - prefix_len);
    } else {
        /* the client encoded the prefix: send the rest re-encoded */
        size_t n = url_percent_encode_path(rest, rest_len, o.p, o.cap + 1);

        if (n >= o.cap)
            return -1;
        o.len = n;
    }
    if (query_len > 0) {
        put(&o, "?", 1);
        put(&o, query, query_len);
    }
    if (o.overflow)
        return -1;
    out[o.len] = '\0';
    return (int)o.len;
}

/* ---- the request head ---- */

static bool name_is(const struct http_span *s, const char *name)
{
    return s->len == strlen(name) && strncasecmp(s->p, name, s->len) == 0;
}

/* Steps through a comma-separated list: *tok is its next element, OWS
 * trimmed (possibly empty). False at the end of the list. */
static bool list_next(const char **v, size_t *len, struct http_span *tok)
{
    const char *p = *v, *end = *v + *len, *start;
    size_t n;

    while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
        p++;
    if (p == end)
        return false;
    start = p;
    while (p < end && *p != ',')
        p++;
    n = (size_t)(p - start);
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    *tok = (struct http_span){.p = start, .len = n};
    *len = (size_t)(end - p);
    *v = p;
    return true;
}

/* True when the list value v names name (case-insensitive tokens). */
static bool list_has(const char *v, size_t len, const char *name, size_t name_len)
{
    struct http_span tok;

    while (list_next(&v, &len, &tok)) {
        if (tok.len == name_len && strncasecmp(tok.p, name, name_len) == 0)
            return true;
    }
    return false;
}

/* The header names the proxy treats apart, each classified once. */
enum hdr_kind {
    HK_OTHER,
    HK_CONNECTION,
    HK_KEEP_ALIVE,
    HK_PROXY_CONNECTION,
    HK_TE,
    HK_TRAILER,
    HK_TRANSFER_ENCODING,
    HK_UPGRADE,
    HK_HOST,
    HK_CONTENT_LENGTH,
    HK_EXPECT,
    HK_X_FORWARDED_FOR,
    HK_X_FORWARDED_PROTO,
    HK_X_FORWARDED_HOST,
    HK_FORWARDED,
    HK_PROXY_AUTHENTICATE,
    HK_DATE,
    HK_SERVER,
};

static const char *const hdr_lower[] = {
    [HK_CONNECTION] = "connection",
    [HK_KEEP_ALIVE] = "keep-alive",
    [HK_PROXY_CONNECTION] = "proxy-connection",
    [HK_TE] = "te",
    [HK_TRAILER] = "trailer",
    [HK_TRANSFER_ENCODING] = "transfer-encoding",
    [HK_UPGRADE] = "upgrade",
    [HK_HOST] = "host",
    [HK_CONTENT_LENGTH] = "content-length",
    [HK_EXPECT] = "expect",
    [HK_X_FORWARDED_FOR] = "x-forwarded-for",
    [HK_X_FORWARDED_PROTO] = "x-forwarded-proto",
    [HK_X_FORWARDED_HOST] = "x-forwarded-host",
    [HK_FORWARDED] = "forwarded",
    [HK_PROXY_AUTHENTICATE] = "proxy-authenticate",
    [HK_DATE] = "date",
    [HK_SERVER] = "server",
};

/* The one kind that a name of this length starting with this letter
 * (lowercase) can be, or HK_OTHER. */
static enum hdr_kind hdr_candidate(size_t len, unsigned char first)
{
    switch (len) {
    case 2: return first == 't' ? HK_TE : HK_OTHER;
    case 4: return first == 'h' ? HK_HOST : first == 'd' ? HK_DATE : HK_OTHER;
    case 6: return first == 'e' ? HK_EXPECT : first == 's' ? HK_SERVER : HK_OTHER;
    case 7: return first == 't' ? HK_TRAILER : first == 'u' ? HK_UPGRADE : HK_OTHER;
    case 9: return first == 'f' ? HK_FORWARDED : HK_OTHER;
    case 10: return first == 'c' ? HK_CONNECTION : first == 'k' ? HK_KEEP_ALIVE : HK_OTHER;
    case 14: return first == 'c' ? HK_CONTENT_LENGTH : HK_OTHER;
    case 15: return first == 'x' ? HK_X_FORWARDED_FOR : HK_OTHER;
    case 16:
        return first == 'x' ? HK_X_FORWARDED_HOST : first == 'p' ? HK_PROXY_CONNECTION : HK_OTHER;
    case 17:
        return first == 'x' ? HK_X_FORWARDED_PROTO : first == 't' ? HK_TRANSFER_ENCODING : HK_OTHER;
    case 18: return first == 'p' ? HK_PROXY_AUTHENTICATE : HK_OTHER;
    default: return HK_OTHER;
    }
}

/* Whether s[0..n) is lower[0..n) (lowercase letters and '-') in any case.
 * Exact for token bytes (names, list elements), eight at a time: setting
 * bit 5 lowers a letter and leaves '-' and the digits as they are. */
static bool lower_eq(const char *s, const char *lower, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t a, b;

        memcpy(&a, s + i, 8);
        memcpy(&b, lower + i, 8);
        if ((a | UINT64_C(0x2020202020202020)) != b)
            return false;
    }
    for (; i < n; i++) {
        if (((unsigned char)s[i] | 0x20) != (unsigned char)lower[i])
            return false;
    }
    return true;
}

/* The kind of header name s: one lookup by length and first letter, then
 * one case-insensitive comparison with the only name that can match. */
static enum hdr_kind hdr_kind(const struct http_span *s)
{
    enum hdr_kind k = s->len ? hdr_candidate(s->len, (unsigned char)(s->p[0] | 0x20)) : HK_OTHER;

    return k != HK_OTHER && lower_eq(s->p, hdr_lower[k], s->len) ? k : HK_OTHER;
}

static uint32_t kind_bit(enum hdr_kind k) { return UINT32_C(1) << k; }

/* True when a list header (Connection) names a header of a kind outside
 * dropped: one a message must then lose besides those. */
static bool list_names_beyond(const struct http_span *v, uint32_t dropped)
{
    const char *p = v->p;
    size_t len = v->len;
    struct http_span tok;

    while (list_next(&p, &len, &tok)) {
        if (tok.len && !(dropped & kind_bit(hdr_kind(&tok))))
            return true;
    }
    return false;
}

/* Request headers never passed on: hop-by-hop ones, those the proxy sets itself. */
static const uint32_t request_dropped =
    UINT32_C(1) << HK_CONNECTION | UINT32_C(1) << HK_KEEP_ALIVE |
    UINT32_C(1) << HK_PROXY_CONNECTION | UINT32_C(1) << HK_TE | UINT32_C(1) << HK_TRAILER |
    UINT32_C(1) << HK_TRANSFER_ENCODING | UINT32_C(1) << HK_UPGRADE | UINT32_C(1) << HK_HOST |
    UINT32_C(1) << HK_CONTENT_LENGTH | UINT32_C(1) << HK_EXPECT |
    UINT32_C(1) << HK_X_FORWARDED_FOR | UINT32_C(1) << HK_X_FORWARDED_PROTO |
    UINT32_C(1) << HK_X_FORWARDED_HOST | UINT32_C(1) << HK_FORWARDED;

/* True when a Connection header of req names name. */
static bool connection_names(const struct http_request *req, const uint8_t *kinds,
                             const struct http_span *name)
{
    for (unsigned i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];

        if (kinds[i] == HK_CONNECTION && list_has(h->value.p, h->value.len, name->p, name->len))
            return true;
    }
    return false;
}

/* Classifies req's headers into kinds[]; true when a Connection header
 * names one that is not dropped anyway. */
static bool request_kinds(const struct http_request *req, uint8_t *kinds)
{
    bool names = false;

    for (unsigned i = 0; i < req->header_count; i++) {
        kinds[i] = (uint8_t)hdr_kind(&req->headers[i].name);
        if (kinds[i] == HK_CONNECTION && list_names_beyond(&req->headers[i].value, request_dropped))
            names = true;
    }
    return names;
}

/* The client's address without port in out ("unix" for a unix socket),
 * its length in *len; returns whether it is IPv6. */
static bool peer_ip(const struct http_exchange *x, char *out, size_t cap, size_t *len)
{
    const struct sockaddr *sa = x->peer;
    const unsigned char *a;
    size_t n = 0;

    if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
        *len = strlen(out);
        return true;
    }
    if (!sa || sa->sa_family != AF_INET) {
        memcpy(out, "unix", 4);
        *len = 4;
        return false;
    }
    a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    for (int i = 0; i < 4; i++) {
        n += http_u64_text(out + n, a[i]);
        out[n++] = '.';
    }
    *len = n - 1;
    return false;
}

/* The values of every name header of x's request joined with ", " (and a
 * final ", "), when the peer is a trusted proxy: its list goes on. Writes
 * nothing for anyone else, whose forwarding headers are replaced. */
static void put_trusted_list(struct out *o, const struct http_exchange *x, const char *name)
{
    const struct http_request *req = x->req;

    for (unsigned i = 0; x->forwarded_trusted && i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];

        if (name_is(&h->name, name) && h->value.len) {
            put(o, h->value.p, h->value.len);
            put(o, ", ", 2);
        }
    }
}

/* A trusted proxy's single-valued forwarding header (X-Forwarded-Proto,
 * -Host) as it came; else value (NULL, 0: no header). */
static void put_trusted_or(struct out *o, const struct http_exchange *x, const char *name,
                           const char *value, size_t len)
{
    size_t got = 0;
    const char *v = x->forwarded_trusted ? http_req_header(x, name, &got) : NULL;

    if (v && got)
        put_line(o, name, v, got);
    else if (value && len)
        put_line(o, name, value, len);
}

/* X-Forwarded-For, -Proto, -Host and Forwarded: a trusted proxy's are
 * appended to (the peer added at the end) or kept, anyone else's replaced. */
static void put_forwarding(struct out *o, const struct http_exchange *x)
{
    const struct http_request *req = x->req;
    char ip[INET6_ADDRSTRLEN + 8];
    size_t ip_len;
    bool v6 = peer_ip(x, ip, sizeof ip, &ip_len);

    put(o, "X-Forwarded-For: ", 17);
    put_trusted_list(o, x, "X-Forwarded-For");
    put(o, ip, ip_len);
    put(o, "\r\n", 2);
    put_trusted_or(o, x, "X-Forwarded-Proto", "http", 4);
    put_trusted_or(o, x, "X-Forwarded-Host", req->host.p, req->host.len);
    put(o, "Forwarded: ", 11);
    put_trusted_list(o, x, "Forwarded");
    if (v6) {
        put(o, "for=\"[", 6);
        put(o, ip, ip_len);
        put(o, "]\"", 2);
    } else {
        put(o, "for=", 4);
        put(o, ip, ip_len);
    }
    if (req->host.len) {
        put(o, ";host=\"", 7);
        put(o, req->host.p, req->host.len);
        put(o, "\"", 1);
    }
    put(o, ";proto=http\r\n", 13);
}

int proxy_request_head(const struct proxy_conf *c, const struct proxy_upstream *u,
                       const struct http_exchange *x, const char *target, size_t target_len,
                       char *out, size_t cap)
{
    const struct http_request *req = x->req;
    struct out o = {.p = out, .cap = cap};
    char num[32];
    uint8_t kinds[HTTP_MAX_HEADERS];
    bool conn_names = request_kinds(req, kinds);

    put(&o, req->method_name.p, req->method_name.len);
    put(&o, " ", 1);
    put(&o, target, target_len);
    puts_(&o, " HTTP/1.1\r\n");
    if (c->preserve_host && req->host.len)
        put_line(&o, "Host", req->host.p, req->host.len);
    else if (u->addr.ss_family == AF_UNIX)
        put_line(&o, "Host", "localhost", 9);
    else
        put_line(&o, "Host", u->text, strlen(u->text));
    for (unsigned i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];

        if ((request_dropped & kind_bit(kinds[i])) ||
            (conn_names && connection_names(req, kinds, &h->name)))
            continue;
        put(&o, h->name.p, h->name.len);
        put(&o, ": ", 2);
        put(&o, h->value.p, h->value.len);
        put(&o, "\r\n", 2);
    }
    put_forwarding(&o, x);
    if (req->chunked) {
        puts_(&o, "Transfer-Encoding: chunked\r\n");
    } else if (req->content_length >= 0) {
        put_line(&o, "Content-Length", num, http_u64_text(num, (uint64_t)req->content_length));
    }
    if (req->upgrade) {
        size_t len;
        const char *v = http_req_header(x, "Upgrade", &len);

        put_line(&o, "Upgrade", v, len);
        puts_(&o, "Connection: upgrade\r\n");
    } else if (c->keepalive == 0) {
        puts_(&o, "Connection: close\r\n");
    }
    put(&o, "\r\n", 2);
    return o.overflow ? -1 : (int)o.len;
}

/* ---- the response ---- */

static struct proxy_resp *resp_of(llhttp_t *p) { return (struct proxy_resp *)p; }

static int on_message_begin(llhttp_t *p)
{
    struct proxy_resp *r = resp_of(p);

    r->n_fields = 0;
    r->last_cb = 0;
    r->folded = false;
    r->status_text = (struct http_span){0};
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_resp *r = resp_of(p);

    if (!r->status_text.p)
        r->status_text.p = at;
    r->status_text.len = (size_t)(at + len - r->status_text.p);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_resp *r = resp_of(p);
    struct http_header *h;

    if (r->head_ready)
        return 0; /* a trailer: never passed on */
    if (r->last_cb != 1) {
        if (r->n_fields == PROXY_MAX_FIELDS) {
            log_error("upstream %s: more than %d header fields: 502", r->upstream,
                      PROXY_MAX_FIELDS);
            r->bad = true;
            return -1;
        }
        r->fields[r->n_fields++] = (struct http_header){.name = {.p = at}};
        r->last_cb = 1;
    }
    h = &r->fields[r->n_fields - 1];
    h->name.len = (size_t)(at + len - h->name.p);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_resp *r = resp_of(p);
    struct http_header *h;

    if (r->head_ready)
        return 0;
    h = &r->fields[r->n_fields - 1];
    if (r->last_cb != 2) {
        h->value.p = at;
        r->last_cb = 2;
    } else if (at != h->value.p + h->value.len) {
        r->folded = true; /* llhttp went on past a CRLF and whitespace */
    }
    h->value.len = (size_t)(at + len - h->value.p);
    return 0;
}

/* Response headers never passed on: hop-by-hop ones. */
static const uint32_t response_hop =
    UINT32_C(1) << HK_CONNECTION | UINT32_C(1) << HK_KEEP_ALIVE |
    UINT32_C(1) << HK_PROXY_CONNECTION | UINT32_C(1) << HK_TE | UINT32_C(1) << HK_TRAILER |
    UINT32_C(1) << HK_TRANSFER_ENCODING | UINT32_C(1) << HK_UPGRADE |
    UINT32_C(1) << HK_PROXY_AUTHENTICATE;

/* Those the engine writes itself in a final head. */
static const uint32_t response_engine =
    UINT32_C(1) << HK_CONTENT_LENGTH | UINT32_C(1) << HK_DATE | UINT32_C(1) << HK_SERVER;

/* The largest Content-Length passed on (the engine's bound too). */
#define PROXY_LENGTH_MAX (UINT64_C(1) << 53)

/* One header of a complete head: its name a token, its value trimmed, its
 * kind noted. NULL or what is wrong with it. */
static const char *field_problem(struct proxy_resp *r, unsigned i)
{
    struct http_header *h = &r->fields[i];

    if (h->name.len == 0)
        return "an empty header name";
#if !LLHTTP_STRICT_MODE
    /* llhttp built loose lets bytes other than tchar into names (strict, it
     * refuses exactly those) */
    for (size_t k = 0; k < h->name.len; k++) {
        if (!http_is_tchar((unsigned char)h->name.p[k]))
            return "an invalid header name";
    }
#endif
    if (!h->value.p)
        h->value.p = "";
    while (h->value.len &&
           (h->value.p[h->value.len - 1] == ' ' || h->value.p[h->value.len - 1] == '\t'))
        h->value.len--;
    r->kinds[i] = (uint8_t)hdr_kind(&h->name);
    if (r->kinds[i] == HK_TRANSFER_ENCODING && !name_is(&h->value, "chunked"))
        return "a Transfer-Encoding other than chunked";
    if (r->kinds[i] == HK_CONNECTION && list_names_beyond(&h->value, response_hop))
        r->conn_names = true;
    return NULL;
}

/* Our own checks of a complete head, beyond llhttp's (which refuses
 * control bytes in values, non-token names in strict mode, a second
 * Content-Length and one beside a Transfer-Encoding itself): no fold, a
 * reason free of control bytes, names that are tokens, at most one
 * Content-Length (up to 2^53), a Transfer-Encoding only as exactly
 * "chunked" and never with a length. */
static const char *head_problem(struct proxy_resp *r)
{
    unsigned n_cl = 0, n_te = 0;
    const char *why;

    if (r->folded)
        return "a header value folded over two lines";
    for (size_t k = 0; k < r->status_text.len; k++) {
        unsigned char ch = (unsigned char)r->status_text.p[k];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return "a control byte in its reason phrase";
    }
    r->conn_names = false;
    for (unsigned i = 0; i < r->n_fields; i++) {
        if ((why = field_problem(r, i)))
            return why;
        n_cl += r->kinds[i] == HK_CONTENT_LENGTH;
        n_te += r->kinds[i] == HK_TRANSFER_ENCODING;
    }
    if (n_cl && n_te)
        return "both Content-Length and Transfer-Encoding";
    if (n_cl > 1)
        return "more than one Content-Length";
    if (n_te > 1)
        return "more than one Transfer-Encoding";
    if (n_cl && r->llhttp.content_length > PROXY_LENGTH_MAX)
        return "a Content-Length over 2^53";
    r->content_length = n_cl ? (int64_t)r->llhttp.content_length : -1;
    return NULL;
}

static int on_headers_complete(llhttp_t *p)
{
    struct proxy_resp *r = resp_of(p);
    const char *why = head_problem(r);
    int status = p->status_code;

    if (why) {
        log_error("upstream %s: the response has %s: 502", r->upstream, why);
        r->bad = true;
        return -1;
    }
    if (status < 100 || status > 599) {
        log_error("upstream %s: the response has status %d, not 100 to 599: 502", r->upstream,
                  status);
        r->bad = true;
        return -1;
    }
    if (status >= 100 && status < 200 && status != 101) {
        r->interim = status; /* the final response follows */
        return 1;
    }
    if (status == 101 && !r->upgrade_asked) {
        log_error("upstream %s: 101 to a request without Upgrade: 502", r->upstream);
        r->bad = true;
        return -1;
    }
    r->status = status;
    r->head_ready = true;
    r->upgrade = status == 101; /* what follows is the tunnel's, not llhttp's */
    /* No body: the message ends (and pauses) at once. Else pause here, so
     * that the head is taken before any byte behind it is parsed. */
    return r->head_only || status == 204 || status == 304 || r->upgrade ? 1 : HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_resp *r = resp_of(p);

    if (len == 0)
        return 0; /* an open span closed at the end of the input */
    r->body = at;
    r->body_len = len;
    return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *p)
{
    struct proxy_resp *r = resp_of(p);

    if (!r->head_ready)
        return HPE_PAUSED; /* the end of an interim response: its head is r's */
    r->done = true;
    r->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

static const llhttp_settings_t resp_settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void proxy_resp_init(struct proxy_resp *r, const char *upstream, bool head_only)
{
    memset(r, 0, offsetof(struct proxy_resp, fields));
    llhttp_init(&r->llhttp, HTTP_RESPONSE, &resp_settings);
    r->upstream = upstream;
    r->head_only = head_only;
}

ssize_t proxy_resp_feed(struct proxy_resp *r, const char *in, size_t len)
{
    bool head_was_ready = r->head_ready;
    llhttp_errno_t e;

    r->body = NULL;
    r->body_len = 0;
    r->interim = 0;
    if (r->done)
        return len == 0 ? 0 : -1;
    e = llhttp_execute(&r->llhttp, in, len);
    if (e == HPE_OK)
        return (ssize_t)len;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        llhttp_resume(&r->llhttp);
        return llhttp_get_error_pos(&r->llhttp) - in;
    }
    if (!r->bad)
        log_error("upstream %s: malformed response%s: %s: 502", r->upstream,
                  head_was_ready ? " body" : "", llhttp_get_error_reason(&r->llhttp));
    return -1;
}

int proxy_resp_eof(struct proxy_resp *r)
{
    if (r->done)
        return 0;
    if (r->head_ready && llhttp_finish(&r->llhttp) == HPE_OK && r->done)
        return 0;
    return -1;
}

/* True when field i is not passed on: its kind is in drop, or a
 * Connection header names it. */
static bool response_header_dropped(const struct proxy_resp *r, unsigned i, uint32_t drop)
{
    const struct http_span *name = &r->fields[i].name;

    if (drop & kind_bit(r->kinds[i]))
        return true;
    for (unsigned j = 0; r->conn_names && j < r->n_fields; j++) {
        const struct http_header *h = &r->fields[j];

        if (r->kinds[j] == HK_CONNECTION && list_has(h->value.p, h->value.len, name->p, name->len))
            return true;
    }
    return false;
}

const char *proxy_resp_header(const struct proxy_resp *r, const char *name, size_t *len)
{
    for (unsigned i = 0; i < r->n_fields; i++) {
        if (name_is(&r->fields[i].name, name)) {
            *len = r->fields[i].value.len;
            return r->fields[i].value.p;
        }
    }
    *len = 0;
    return NULL;
}

/* The header lines of the head parsed last but those response_header_dropped(). */
static int header_lines(const struct proxy_resp *r, uint32_t drop, char *out, size_t cap)
{
    struct out o = {.p = out, .cap = cap};

    for (unsigned i = 0; i < r->n_fields; i++) {
        const struct http_header *h = &r->fields[i];

        if (response_header_dropped(r, i, drop))
            continue;
        put(&o, h->name.p, h->name.len);
        put(&o, ": ", 2);
        put(&o, h->value.p, h->value.len);
        put(&o, "\r\n", 2);
    }
    return o.overflow ? -1 : (int)o.len;
}

int proxy_resp_header_lines(const struct proxy_resp *r, char *out, size_t cap)
{
    return header_lines(r, response_hop, out, cap);
}

int proxy_resp_send_head(const struct proxy_resp *r, struct http_exchange *x)
{
    int rc = http_resp_raw_begin(x, r->status, r->status_text.p ? r->status_text.p : "",
                                 r->status_text.len);

    for (unsigned i = 0; rc == 0 && i < r->n_fields; i++) {
        const struct http_header *h = &r->fields[i];

        if (!response_header_dropped(r, i, response_hop | response_engine))
            rc = http_resp_header(x, h->name.p, h->name.len, h->value.p, h->value.len);
    }
    return rc == 0 ? http_resp_raw_end(x, r->content_length) : rc;
}

/* p moved with the len bytes at from to to, or left where it was. */
static const char *moved(const char *p, const char *from, size_t len, const char *to)
{
    uintptr_t a = (uintptr_t)p, f = (uintptr_t)from;

    return a >= f && a - f < len ? to + (a - f) : p;
}

void proxy_resp_rebase(struct proxy_resp *r, const char *from, size_t len, const char *to)
{
    r->status_text.p = moved(r->status_text.p, from, len, to);
    for (unsigned i = 0; i < r->n_fields; i++) {
        r->fields[i].name.p = moved(r->fields[i].name.p, from, len, to);
        r->fields[i].value.p = moved(r->fields[i].value.p, from, len, to);
    }
}

int proxy_resp_head_text(const struct proxy_resp *r, char *out, size_t cap)
{
    struct out o = {.p = out, .cap = cap};
    char line[32];
    int lines;

    put(&o, line, (size_t)snprintf(line, sizeof line, "HTTP/1.1 %03d ", r->status));
    put(&o, r->status_text.p ? r->status_text.p : "", r->status_text.len);
    put(&o, "\r\n", 2);
    if (o.overflow || (lines = proxy_resp_header_lines(r, out + o.len, cap - o.len)) < 0)
        return -1;
    o.len += (size_t)lines;
    put(&o, "\r\n", 2);
    return o.overflow ? -1 : (int)o.len;
}
