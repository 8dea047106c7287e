/* access.c - allow/deny lists of client addresses: the first matching rule decides. */
#include "http/access.h"

bool http_access_permits(const struct http_access *a, const struct sockaddr *client)
{
    unsigned char addr[16];

    if (!a || a->n == 0 || (client && client->sa_family == AF_UNIX))
        return true;
    if (!cidr_addr_of(client, addr))
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (cidr_match(&a->rules[i].cidr, addr))
            return a->rules[i].allow;
    }
    return !a->any_allow;
}
