/* cidr.h - IPv4 and IPv6 address blocks: parsing, matching, printing. */
#ifndef COHTTPD_HTTP_CIDR_H
#define COHTTPD_HTTP_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

/* An address block. IPv4 is kept as ::ffff:a.b.c.d with its prefix
 * counted over 128 bits, so one comparison serves both families. */
struct cidr {
    unsigned char addr[16];
    unsigned prefix; /* 0..128 */
};

/* Parses "ADDR" or "ADDR/BITS" (IPv4 dotted quad or IPv6) from s[0..len)
 * into c; host bits may be set (they are ignored when matching). Returns
 * 0 or -EINVAL. Never yields. */
int cidr_parse(const char *s, size_t len, struct cidr *c);

/* True when addr (16 bytes, IPv4 mapped as ::ffff:a.b.c.d) lies in c. */
bool cidr_match(const struct cidr *c, const unsigned char addr[16]);

/* True when addr lies in one of list[0..n). */
bool cidr_match_any(const struct cidr *list, size_t n, const unsigned char addr[16]);

/* The address of sa as 16 bytes (IPv4 mapped) into out. Returns false for
 * anything but AF_INET and AF_INET6 (a unix socket, NULL). */
bool cidr_addr_of(const struct sockaddr *sa, unsigned char out[16]);

/* Writes c as "ADDR/BITS" (IPv4 as a dotted quad and 0..32 bits). */
void cidr_print(FILE *out, const struct cidr *c);

#endif
