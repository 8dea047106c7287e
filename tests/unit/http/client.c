/* client.c - tests of http/client.c and http/cidr.c: whose address a request is from. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "http/access.h"
#include "http/client.h"

/* The trusted proxies every case runs with: one IPv4 block, one IPv6. */
static struct cidr trusted_v[2];
static struct http_trusted trusted = {.v = trusted_v, .n = 2};

static void setup(void)
{
    cr_assert_eq(cidr_parse("10.0.0.0/8", 10, &trusted_v[0]), 0);
    cr_assert_eq(cidr_parse("fd00::/8", 8, &trusted_v[1]), 0);
}

/* A request with the header lines "Name: value" of lines[0..n). */
struct req_with {
    struct http_request req;
};

static void make_req(struct req_with *r, const char *const *lines, size_t n)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(lines[i], ':');

        r->req.headers[i].name =
            (struct http_span){.p = lines[i], .len = (size_t)(colon - lines[i])};
        r->req.headers[i].value = (struct http_span){.p = colon + 2, .len = strlen(colon + 2)};
    }
    r->req.header_count = (unsigned)n;
}

static socklen_t peer4(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;

    memset(ss, 0, sizeof *ss);
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    cr_assert_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    return sizeof *in;
}

struct client_case {
    const char *peer;     /* IPv4 */
    const char *lines[3]; /* request header lines, NULL-ended */
    enum http_client_source src;
    const char *client; /* the address found */
    unsigned port;      /* its port */
};

static const struct client_case cases[] = {
    /* an untrusted peer: headers ignored */
    {"192.0.2.1", {"X-Forwarded-For: 198.51.100.7"}, HTTP_CLIENT_PEER, "192.0.2.1", 4000},
    {"192.0.2.1", {"Forwarded: for=198.51.100.7"}, HTTP_CLIENT_PEER, "192.0.2.1", 4000},
    /* a trusted peer without a header: itself */
    {"10.1.2.3", {NULL}, HTTP_CLIENT_PEER, "10.1.2.3", 4000},
    /* the rightmost untrusted hop */
    {"10.1.2.3", {"X-Forwarded-For: 198.51.100.7"}, HTTP_CLIENT_FORWARDED, "198.51.100.7", 0},
    {"10.1.2.3",
     {"X-Forwarded-For: 203.0.113.9, 198.51.100.7, 10.9.9.9"},
     HTTP_CLIENT_FORWARDED,
     "198.51.100.7",
     0},
    {"10.1.2.3",
     {"X-Forwarded-For: 203.0.113.9", "X-Forwarded-For: 10.0.0.5, 10.0.0.6"},
     HTTP_CLIENT_FORWARDED,
     "203.0.113.9",
     0},
    /* every hop trusted: the leftmost */
    {"10.1.2.3", {"X-Forwarded-For: 10.0.0.1,10.0.0.2"}, HTTP_CLIENT_FORWARDED, "10.0.0.1", 0},
    /* ports and IPv6 */
    {"10.1.2.3",
     {"X-Forwarded-For: 198.51.100.7:5555"},
     HTTP_CLIENT_FORWARDED,
     "198.51.100.7",
     5555},
    {"10.1.2.3", {"X-Forwarded-For: 2001:db8::1"}, HTTP_CLIENT_FORWARDED, "2001:db8::1", 0},
    {"10.1.2.3",
     {"X-Forwarded-For: [2001:db8::1]:443, fd00::2"},
     HTTP_CLIENT_FORWARDED,
     "2001:db8::1",
     443},
    /* Forwarded: for= among other parameters, quoted, several elements */
    {"10.1.2.3",
     {"Forwarded: for=198.51.100.7;proto=https;by=10.0.0.1"},
     HTTP_CLIENT_FORWARDED,
     "198.51.100.7",
     0},
    {"10.1.2.3",
     {"Forwarded: for=192.0.2.60, For=\"[2001:db8:cafe::17]:4711\""},
     HTTP_CLIENT_FORWARDED,
     "2001:db8:cafe::17",
     4711},
    {"10.1.2.3",
     {"Forwarded: for=192.0.2.60;host=\"a,b\", for=10.0.0.9"},
     HTTP_CLIENT_FORWARDED,
     "192.0.2.60",
     0},
    /* X-Forwarded-For wins over Forwarded */
    {"10.1.2.3",
     {"Forwarded: for=192.0.2.60", "X-Forwarded-For: 198.51.100.7"},
     HTTP_CLIENT_FORWARDED,
     "198.51.100.7",
     0},
    /* malformed from a trusted peer: the peer */
    {"10.1.2.3", {"X-Forwarded-For: not-an-address"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"X-Forwarded-For: 198.51.100.7, bogus"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"X-Forwarded-For: 198.51.100.7:99999"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"X-Forwarded-For: 2001:db8::1:80]"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"X-Forwarded-For: "}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"Forwarded: for=unknown"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"Forwarded: for=_hidden"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"Forwarded: proto=https"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
    {"10.1.2.3", {"Forwarded: for=\"[2001:db8::1]"}, HTTP_CLIENT_MALFORMED, "10.1.2.3", 4000},
};

static void resolve_case(const struct client_case *c)
{
    struct sockaddr_storage peer, out;
    socklen_t peer_len = peer4(&peer, c->peer, 4000), out_len = 0;
    struct req_with r;
    size_t n = 0;
    char text[INET6_ADDRSTRLEN];
    enum http_client_source src;
    unsigned port;

    while (n < 3 && c->lines[n])
        n++;
    make_req(&r, c->lines, n);
    src = http_client_resolve(&r.req, (struct sockaddr *)&peer, peer_len, &trusted, &out, &out_len,
                              NULL);
    http_addr_text((struct sockaddr *)&out, text, sizeof text);
    port = out.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&out)->sin_port)
                                    : ntohs(((struct sockaddr_in6 *)&out)->sin6_port);
    cr_expect_eq(src, c->src, "%s: source %d, expected %d", c->lines[0], src, c->src);
    cr_expect_str_eq(text, c->client, "%s: client %s, expected %s", c->lines[0], text, c->client);
    cr_expect_eq(port, c->port, "%s: port %u, expected %u", c->lines[0], port, c->port);
    cr_expect_eq(out_len, out.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                   : sizeof(struct sockaddr_in6));
}

Test(client, resolve, .init = setup)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        resolve_case(&cases[i]);
}

Test(client, beyond_the_hop_limit_only_the_rightmost_are_walked, .init = setup)
{
    char line[4096] = "X-Forwarded-For: 198.51.100.1";
    const char *lines[1] = {line};
    struct sockaddr_storage peer, out;
    socklen_t peer_len = peer4(&peer, "10.1.2.3", 1), out_len;
    struct req_with r;
    char text[INET6_ADDRSTRLEN];

    for (int i = 0; i < HTTP_CLIENT_MAX_HOPS + 5; i++)
        strcat(line, ", 10.0.0.7");
    make_req(&r, lines, 1);
    cr_assert_eq(http_client_resolve(&r.req, (struct sockaddr *)&peer, peer_len, &trusted, &out,
                                     &out_len, NULL),
                 HTTP_CLIENT_FORWARDED);
    http_addr_text((struct sockaddr *)&out, text, sizeof text);
    cr_expect_str_eq(text, "10.0.0.7");
}

Test(client, a_unix_peer_is_trusted_only_when_said)
{
    struct sockaddr peer = {.sa_family = AF_UNIX};
    struct http_trusted t = {0};

    cr_expect_not(http_client_trusted(&t, &peer));
    t.unix_peers = true;
    cr_expect(http_client_trusted(&t, &peer));
}

/* ---- cidr.c and access.c ---- */

static bool permits(const struct http_access *a, const char *ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        ss.ss_family = AF_INET6;
        cr_assert_eq(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
    } else {
        ss.ss_family = AF_INET;
        cr_assert_eq(inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr), 1);
    }
    return http_access_permits(a, (struct sockaddr *)&ss);
}

static void rule(struct http_access_rule *r, const char *text, bool allow)
{
    r->allow = allow;
    if (strcmp(text, "all") == 0)
        r->cidr = (struct cidr){.prefix = 0};
    else
        cr_assert_eq(cidr_parse(text, strlen(text), &r->cidr), 0, "%s", text);
}

Test(access, first_match_wins_and_allow_lists_refuse_the_rest)
{
    struct http_access_rule rules[3];
    struct http_access a = {.rules = rules, .n = 2, .any_allow = true};

    rule(&rules[0], "192.168.1.1", false);
    rule(&rules[1], "192.168.1.0/24", true);
    cr_expect_not(permits(&a, "192.168.1.1"));
    cr_expect(permits(&a, "192.168.1.2"));
    cr_expect_not(permits(&a, "192.168.2.1"), "an allow list refuses the rest");
    cr_expect_not(permits(&a, "::1"));

    a = (struct http_access){.rules = rules, .n = 1};
    cr_expect(permits(&a, "192.168.2.1"), "a deny list serves the rest");
    cr_expect_not(permits(&a, "192.168.1.1"));

    rule(&rules[0], "2001:db8::/32", true);
    rule(&rules[1], "all", false);
    a = (struct http_access){.rules = rules, .n = 2, .any_allow = true};
    cr_expect(permits(&a, "2001:db8:1::5"));
    cr_expect_not(permits(&a, "2001:db9::5"));
    cr_expect_not(permits(&a, "127.0.0.1"));
    cr_expect(http_access_permits(NULL, NULL), "no rules: everyone");
}

Test(cidr, parse_and_print)
{
    static const struct {
        const char *in, *out;
    } ok[] = {{"10.0.0.0/8", "10.0.0.0/8"},
              {"127.0.0.1", "127.0.0.1/32"},
              {"::1", "::1/128"},
              {"fd00::/8", "fd00::/8"},
              {"0.0.0.0/0", "0.0.0.0/0"}};
    static const char *const bad[] = {"",          "10.0.0.0/33", "::/129",       "10.0.0/8",
                                      "10.0.0.0/", "10.0.0.0/x",  "host.example", "1.2.3.4/-1"};
    struct cidr c;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char buf[64] = "";
        FILE *f = fmemopen(buf, sizeof buf, "w");

        cr_assert_eq(cidr_parse(ok[i].in, strlen(ok[i].in), &c), 0, "%s", ok[i].in);
        cidr_print(f, &c);
        fclose(f);
        cr_expect_str_eq(buf, ok[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_lt(cidr_parse(bad[i], strlen(bad[i]), &c), 0, "'%s' accepted", bad[i]);
}
