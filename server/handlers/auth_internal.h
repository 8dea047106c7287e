/* auth_internal.h - what auth.c and auth_file.c share: an htpasswd file's users. */
#ifndef COHTTPD_HANDLERS_AUTH_INTERNAL_H
#define COHTTPD_HANDLERS_AUTH_INTERNAL_H

#include <stddef.h>

struct auth_user {
    char *name; /* NUL-terminated; both point into auth_users.buf */
    char *hash;
};

/* The users of one htpasswd file, sorted by name. */
struct auth_users {
    struct auth_user *v;
    size_t n;
    char *buf; /* the file's text */
};

/* Reads and checks path (see auth_file_check) into *out; returns the
 * number of users, or -1 after at least one report (*out is then empty). */
int auth_users_load(const char *path, struct auth_users *out,
                    void (*report)(void *ctx, const char *msg), void *ctx);

/* Frees what auth_users_load made (an empty one is fine). */
void auth_users_free(struct auth_users *u);

/* The user named name[0..len), or NULL. */
const struct auth_user *auth_users_find(const struct auth_users *u, const char *name, size_t len);

#endif
