/* auth_file.c - reads an htpasswd file and refuses the hashes cohttpd does not accept. */
#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "handlers/auth.h"
#include "handlers/auth_internal.h"

/* The most refused lines reported for one file. */
#define REPORT_MAX 10

#define HOW_TO                                                                                     \
    "make a bcrypt one with `htpasswd -B FILE USER` (or a yescrypt or SHA-512 one with "           \
    "`mkpasswd -m yescrypt` or `mkpasswd -m sha-512`)"

struct load {
    const char *path;
    void (*report)(void *ctx, const char *msg);
    void *ctx;
    int errors;
};

__attribute__((format(printf, 3, 4))) static void load_error(struct load *ld, unsigned line,
                                                             const char *fmt, ...)
{
    char msg[512];
    int n = line ? snprintf(msg, sizeof msg, "%s:%u: ", ld->path, line)
                 : snprintf(msg, sizeof msg, "%s: ", ld->path);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (ld->errors++ < REPORT_MAX)
        ld->report(ld->ctx, msg);
}

/* Method prefixes cohttpd accepts and the length of their final field
 * (bcrypt's: salt and checksum together). */
static const struct method {
    const char *prefix;
    size_t tail;
} accepted[] = {
    {.prefix = "$2a$", .tail = 53}, {.prefix = "$2b$", .tail = 53}, {.prefix = "$2y$", .tail = 53},
    {.prefix = "$5$", .tail = 43},  {.prefix = "$6$", .tail = 86},  {.prefix = "$y$", .tail = 43},
};

/* True when hash's last '$'-separated field has the method's length and
 * alphabet (crypt_checksalt checks only the part before it). */
static bool tail_ok(const char *hash, size_t want)
{
    const char *tail = strrchr(hash, '$') + 1;

    return strlen(tail) == want &&
           strspn(tail, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == want;
}

/* True when libcrypt can verify hash (a method it calls legacy, such as
 * SHA-256-crypt, still verifies). */
static bool verifiable(const char *hash)
{
    int r = crypt_checksalt(hash);

    return r == CRYPT_SALT_OK || r == CRYPT_SALT_METHOD_LEGACY;
}

/* Why a hash is refused, or NULL when libcrypt verifies it and it is a
 * method cohttpd accepts. */
static const char *hash_refusal(const char *hash)
{
    if (strncmp(hash, "$apr1$", 6) == 0)
        return "an Apache MD5 ($apr1$) hash, which cohttpd does not accept";
    if (strncmp(hash, "{SHA}", 5) == 0)
        return "an unsalted SHA-1 ({SHA}) hash, which cohttpd does not accept";
    if (strncmp(hash, "$1$", 3) == 0)
        return "an MD5-crypt ($1$) hash, which cohttpd does not accept";
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        const struct method *m = &accepted[i];

        if (strncmp(hash, m->prefix, strlen(m->prefix)) == 0)
            return verifiable(hash) && tail_ok(hash, m->tail) ? NULL : "a malformed hash";
    }
    if (hash[0] == '$')
        return "a hash of a method cohttpd does not accept";
    return "plain text or a DES hash, which cohttpd does not accept";
}

static int user_cmp(const void *a, const void *b)
{
    return strcmp(((const struct auth_user *)a)->name, ((const struct auth_user *)b)->name);
}

/* Checks one "user:hash" line (NUL-terminated, end of line stripped) and
 * adds it to u. */
static void take_line(struct load *ld, struct auth_users *u, char *line, unsigned lineno)
{
    char *colon = strchr(line, ':');
    const char *why;

    if (!colon || colon == line) {
        load_error(ld, lineno, "not a 'user:hash' line");
        return;
    }
    *colon = '\0';
    why = hash_refusal(colon + 1);
    if (why) {
        load_error(ld, lineno, "user '%s' has %s: %s", line, why, HOW_TO);
        return;
    }
    u->v[u->n++] = (struct auth_user){.name = line, .hash = colon + 1};
}

/* The whole file, NUL-terminated, in u->buf, and room for its users. */
static int read_file(struct load *ld, struct auth_users *u, size_t *len)
{
    FILE *f = fopen(ld->path, "re");
    struct stat st;
    size_t lines = 1;

    if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)AUTH_MAX_USERS * AUTH_LINE_MAX) {
        load_error(ld, 0, "cannot read the password file: %s",
                   f && !S_ISREG(st.st_mode) ? "not a regular file"
                                             : strerror(errno ? errno : EFBIG));
        if (f)
            fclose(f);
        return -1;
    }
    u->buf = malloc((size_t)st.st_size + 1);
    *len = u->buf ? fread(u->buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!u->buf) {
        load_error(ld, 0, "out of memory");
        return -1;
    }
    u->buf[*len] = '\0';
    for (size_t i = 0; i < *len; i++)
        lines += u->buf[i] == '\n';
    u->v = calloc(lines, sizeof *u->v);
    if (!u->v) {
        load_error(ld, 0, "out of memory");
        return -1;
    }
    return 0;
}

/* Splits u->buf into lines and takes each one. */
static void take_lines(struct load *ld, struct auth_users *u, size_t len)
{
    char *p = u->buf, *end = u->buf + len;
    unsigned lineno = 0;

    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *line = p;
        size_t n = (size_t)((nl ? nl : end) - p);

        lineno++;
        p += n + 1;
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        line[n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (n > AUTH_LINE_MAX)
            load_error(ld, lineno, "line longer than %d bytes", AUTH_LINE_MAX);
        else if (u->n == AUTH_MAX_USERS)
            load_error(ld, lineno, "more than %d users", AUTH_MAX_USERS);
        else
            take_line(ld, u, line, lineno);
    }
}

int auth_users_load(const char *path, struct auth_users *out,
                    void (*report)(void *ctx, const char *msg), void *ctx)
{
    struct load ld = {.path = path, .report = report, .ctx = ctx};
    struct auth_users u = {0};
    size_t len = 0;

    if (read_file(&ld, &u, &len) == 0)
        take_lines(&ld, &u, len);
    if (ld.errors == 0 && u.n > 1) {
        qsort(u.v, u.n, sizeof *u.v, user_cmp);
        for (size_t i = 1; i < u.n; i++)
            if (strcmp(u.v[i - 1].name, u.v[i].name) == 0)
                load_error(&ld, 0, "user '%s' is listed twice", u.v[i].name);
    }
    if (ld.errors > 0) {
        auth_users_free(&u);
        return -1;
    }
    *out = u;
    return (int)u.n;
}

void auth_users_free(struct auth_users *u)
{
    free(u->v);
    free(u->buf);
    *u = (struct auth_users){0};
}

const struct auth_user *auth_users_find(const struct auth_users *u, const char *name, size_t len)
{
    size_t lo = 0, hi = u->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, have = strlen(u->v[mid].name);
        int c = memcmp(u->v[mid].name, name, have < len ? have : len);

        if (c == 0)
            c = (have > len) - (have < len);
        if (c == 0)
            return &u->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int auth_file_check(const char *path, void (*report)(void *ctx, const char *msg), void *ctx)
{
    struct auth_users u;
    int n = auth_users_load(path, &u, report, ctx);

    if (n >= 0)
        auth_users_free(&u);
    return n;
}

bool auth_realm_ok(const char *realm)
{
    size_t n = strlen(realm);

    if (n == 0 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)realm[i];

        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            return false;
    }
    return true;
}
