/* client.c - the real client address: the peer, or whom a trusted proxy forwarded for. */
#include "http/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "http/exchange.h"

/* The rightmost elements of a comma-separated header list, in order. */
struct hops {
    struct http_span v[HTTP_CLIENT_MAX_HOPS];
    size_t n; /* elements seen; the last HTTP_CLIENT_MAX_HOPS are kept */
};

static bool ows(char c) { return c == ' ' || c == '\t'; }

static struct http_span trim(const char *p, size_t len)
{
    while (len && ows(*p)) {
        p++;
        len--;
    }
    while (len && ows(p[len - 1]))
        len--;
    return (struct http_span){.p = p, .len = len};
}

/* Index of the next sep in s[i..len) outside a quoted string, else len. */
static size_t next_sep(const char *s, size_t i, size_t len, char sep)
{
    bool quoted = false;

    for (; i < len; i++) {
        if (quoted && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == sep)
            break;
    }
    return i < len ? i : len;
}

/* Adds the non-empty elements of one header line (RFC 9110 §5.6.1). */
static void hops_add(struct hops *h, const struct http_span *value)
{
    size_t i = 0, end;

    while (i <= value->len) {
        struct http_span e;

        end = next_sep(value->p, i, value->len, ',');
        e = trim(value->p + i, end - i);
        if (e.len)
            h->v[h->n++ % HTTP_CLIENT_MAX_HOPS] = e;
        i = end + 1;
    }
}

/* The lines of header name, as one list. False when there is none. */
static bool hops_collect(const struct http_request *req, const char *name, struct hops *h)
{
    bool seen = false;

    h->n = 0;
    for (unsigned i = 0; i < req->header_count; i++) {
        const struct http_span *n = &req->headers[i].name;

        if (n->len == strlen(name) && strncasecmp(n->p, name, n->len) == 0) {
            hops_add(h, &req->headers[i].value);
            seen = true;
        }
    }
    return seen;
}

/* Port digits (1 to 5, at most 65535) into *port. */
static bool parse_port(const char *s, size_t len, unsigned *port)
{
    unsigned v = 0;

    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *port = v;
    return v <= 65535;
}

/* Splits "HOST", "HOST:PORT" (HOST IPv4), "[V6]" or "[V6]:PORT" into host
 * and *port (0 when absent); a bare IPv6 address has no port. */
static bool split_node(const char *s, size_t len, struct http_span *host, unsigned *port,
                       bool *bracketed)
{
    const char *colon = memchr(s, ':', len), *close;

    *port = 0;
    *bracketed = len && s[0] == '[';
    if (*bracketed) {
        close = memchr(s, ']', len);
        if (!close)
            return false;
        *host = (struct http_span){.p = s + 1, .len = (size_t)(close - s - 1)};
        len -= (size_t)(close + 1 - s);
        return len == 0 || (close[1] == ':' && parse_port(close + 2, len - 1, port));
    }
    *host = (struct http_span){.p = s, .len = len};
    if (colon && !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
        host->len = (size_t)(colon - s);
        return parse_port(colon + 1, len - host->len - 1, port);
    }
    return true;
}

/* "1.2.3.4", "1.2.3.4:80", "::1", "[::1]" or "[::1]:80" into *ss. */
static bool parse_node(const char *s, size_t len, struct sockaddr_storage *ss, socklen_t *ss_len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    char text[INET6_ADDRSTRLEN];
    struct http_span host;
    unsigned port;
    bool bracketed;

    if (!split_node(s, len, &host, &port, &bracketed) || host.len == 0 || host.len >= sizeof text)
        return false;
    memcpy(text, host.p, host.len);
    text[host.len] = '\0';
    memset(ss, 0, sizeof *ss);
    if (!bracketed && inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *ss_len = sizeof *in4;
        return true;
    }
    if ((!bracketed && port) || inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
        return false;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *ss_len = sizeof *in6;
    return true;
}

/* The "for=" value of a Forwarded element, unquoted into buf. */
static bool forwarded_for(const struct http_span *e, char *buf, size_t cap, size_t *len)
{
    size_t i = 0, end;

    while (i < e->len) {
        struct http_span pair;
        const char *eq;

        end = next_sep(e->p, i, e->len, ';');
        pair = trim(e->p + i, end - i);
        i = end + 1;
        eq = memchr(pair.p, '=', pair.len);
        if (!eq || eq - pair.p != 3 || strncasecmp(pair.p, "for", 3) != 0)
            continue;
        pair = (struct http_span){.p = eq + 1, .len = pair.len - 4};
        if (pair.len < 2 || pair.p[0] != '"') {
            if (pair.len >= cap)
                return false;
            memcpy(buf, pair.p, pair.len);
            *len = pair.len;
            return true;
        }
        if (pair.p[pair.len - 1] != '"')
            return false;
        *len = 0;
        for (size_t k = 1; k + 1 < pair.len; k++) {
            if (pair.p[k] == '\\' && k + 2 < pair.len)
                k++;
            if (*len + 1 >= cap)
                return false;
            buf[(*len)++] = pair.p[k];
        }
        return true;
    }
    return false;
}

/* Walks h from the right; see http_client_resolve. */
static bool hops_walk(const struct hops *h, bool forwarded, const struct http_trusted *trusted,
                      struct sockaddr_storage *out, socklen_t *out_len)
{
    size_t first = h->n > HTTP_CLIENT_MAX_HOPS ? h->n - HTTP_CLIENT_MAX_HOPS : 0;

    for (size_t k = h->n; k-- > first;) {
        const struct http_span *e = &h->v[k % HTTP_CLIENT_MAX_HOPS];
        char node[INET6_ADDRSTRLEN + 16];
        size_t len;

        if (forwarded) {
            if (!forwarded_for(e, node, sizeof node, &len))
                return false;
        } else {
            if (e->len >= sizeof node)
                return false;
            memcpy(node, e->p, e->len);
            len = e->len;
        }
        if (!parse_node(node, len, out, out_len))
            return false;
        if (!http_client_trusted(trusted, (const struct sockaddr *)out))
            break;
    }
    return true;
}

bool http_client_trusted(const struct http_trusted *trusted, const struct sockaddr *peer)
{
    unsigned char addr[16];

    if (!trusted || !peer)
        return false;
    if (peer->sa_family == AF_UNIX)
        return trusted->unix_peers;
    return cidr_addr_of(peer, addr) && cidr_match_any(trusted->v, trusted->n, addr);
}

enum http_client_source http_client_resolve(const struct http_request *req,
                                            const struct sockaddr *peer, socklen_t peer_len,
                                            const struct http_trusted *trusted,
                                            struct sockaddr_storage *out, socklen_t *out_len,
                                            const char **header)
{
    enum http_client_source src = HTTP_CLIENT_PEER;
    const char *name = NULL;
    struct hops h;

    if (req && http_client_trusted(trusted, peer)) {
        if (hops_collect(req, "X-Forwarded-For", &h))
            name = "X-Forwarded-For";
        else if (hops_collect(req, "Forwarded", &h))
            name = "Forwarded";
        if (name && h.n && hops_walk(&h, name[0] == 'F', trusted, out, out_len))
            src = HTTP_CLIENT_FORWARDED;
        else if (name)
            src = HTTP_CLIENT_MALFORMED;
    }
    if (header)
        *header = name;
    if (src == HTTP_CLIENT_FORWARDED)
        return src;
    if (peer_len > sizeof *out)
        peer_len = sizeof *out;
    memset(out, 0, sizeof *out);
    if (peer)
        memcpy(out, peer, peer_len);
    *out_len = peer_len;
    return src;
}

void http_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
    else
        snprintf(out, cap, "%s", sa && sa->sa_family == AF_UNIX ? "unix:" : "-");
}

/* http_client_set for a site with trusted proxies. Kept out of line: the
 * usual site has none, and its requests then pay no stack frame for this
 * one's buffer. */
__attribute__((noinline)) static void client_set_forwarded(struct http_exchange *x,
                                                           const struct http_trusted *trusted,
                                                           struct sockaddr_storage *ss)
{
    enum http_client_source src;
    const char *header;
    char peer[INET6_ADDRSTRLEN];

    src = http_client_resolve(x->req, x->peer, x->peer_len, trusted, ss, &x->client_len, &header);
    x->client = (const struct sockaddr *)ss;
    x->forwarded_trusted = src != HTTP_CLIENT_MALFORMED && http_client_trusted(trusted, x->peer);
    if (src != HTTP_CLIENT_MALFORMED)
        return;
    http_addr_text(x->peer, peer, sizeof peer);
    log_warn("trusted proxy %s sent a malformed %s header: the client is taken to be the proxy",
             peer, header);
}

void http_client_set(struct http_exchange *x, struct sockaddr_storage *ss)
{
    const struct http_trusted *trusted = x->site ? x->site->trusted : NULL;

    x->client = x->peer;
    x->client_len = x->peer_len;
    x->forwarded_trusted = false;
    /* No trusted proxy (the usual case): the peer, without looking. */
    if (!trusted || !x->peer || (trusted->n == 0 && !trusted->unix_peers))
        return;
    client_set_forwarded(x, trusted, ss);
}
