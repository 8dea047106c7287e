/* cidr.c - IPv4 and IPv6 address blocks: parsing, matching, printing. */
#include "http/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void v4_mapped(unsigned char out[16], const void *in4)
{
    memcpy(out, v4_prefix, sizeof v4_prefix);
    memcpy(out + 12, in4, 4);
}

int cidr_parse(const char *s, size_t len, struct cidr *c)
{
    char text[INET6_ADDRSTRLEN + 8];
    const char *slash;
    struct in_addr a4;
    unsigned max, bits;
    bool v4;

    if (len == 0 || len >= sizeof text)
        return -EINVAL;
    memcpy(text, s, len);
    text[len] = '\0';
    slash = strchr(text, '/');
    if (slash)
        text[slash - text] = '\0';
    v4 = inet_pton(AF_INET, text, &a4) == 1;
    if (v4)
        v4_mapped(c->addr, &a4);
    else if (inet_pton(AF_INET6, text, c->addr) != 1)
        return -EINVAL;
    max = v4 ? 32 : 128;
    bits = max;
    if (slash) {
        char *end;
        unsigned long n = strtoul(slash + 1, &end, 10);

        if (slash[1] < '0' || slash[1] > '9' || *end || n > max)
            return -EINVAL;
        bits = (unsigned)n;
    }
    c->prefix = bits + (v4 ? 96 : 0);
    return 0;
}

bool cidr_match(const struct cidr *c, const unsigned char addr[16])
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;

    if (memcmp(c->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((c->addr[full] ^ addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

bool cidr_match_any(const struct cidr *list, size_t n, const unsigned char addr[16])
{
    for (size_t i = 0; i < n; i++) {
        if (cidr_match(&list[i], addr))
            return true;
    }
    return false;
}

bool cidr_addr_of(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa && sa->sa_family == AF_INET) {
        v4_mapped(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
        return true;
    }
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

void cidr_print(FILE *out, const struct cidr *c)
{
    char text[INET6_ADDRSTRLEN];
    bool v4 = c->prefix >= 96 && memcmp(c->addr, v4_prefix, sizeof v4_prefix) == 0;

    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? c->addr + 12 : c->addr, text, sizeof text);
    fprintf(out, "%s/%u", text, v4 ? c->prefix - 96 : c->prefix);
}
