/* auth.c - HTTP basic authentication: credentials, the check off the loop, a cache of successes. */
#include "handlers/auth.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/log.h"
#include "core/net.h"
#include "core/workpool.h"
#include "handlers/auth_internal.h"
#include "handlers/pool.h"
#include "http/status.h"

/* The longest decoded "user:password" taken; longer ones are refused. */
#define CRED_MAX 512
/* Successful checks remembered per route (direct-mapped slots). */
#define CACHE_SLOTS 1024
/* Failed attempts logged per route and second at most. */
#define FAIL_LOGS_PER_SEC 5

struct auth {
    char *realm;
    char *path;
    struct auth_users users;
    uint64_t version; /* this load of the file: part of every cache key */
    pthread_mutex_t lock;
    unsigned char (*slots)[32]; /* MACs of credentials that matched */
    _Atomic uint64_t log_second;
    _Atomic unsigned log_count;
};

/* The MAC key of the caches, made once per process. */
static unsigned char mac_key[32];
static _Atomic uint64_t next_version = 1;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_err;

static void key_make(void)
{
    if (getrandom(mac_key, sizeof mac_key, 0) != (ssize_t)sizeof mac_key)
        key_err = errno ? errno : EIO;
}

struct open_report {
    char *err;
    size_t err_len;
    bool set;
};

static void open_report(void *ctx, const char *msg)
{
    struct open_report *r = ctx;

    if (!r->set)
        snprintf(r->err, r->err_len, "%s", msg);
    r->set = true;
}

int auth_open(const char *realm, const char *path, struct auth **out, char *err, size_t err_len)
{
    struct open_report rep = {.err = err, .err_len = err_len};
    struct auth *a;

    pthread_once(&key_once, key_make);
    if (key_err || !handlers_pool()) {
        int e = key_err ? key_err : errno;

        snprintf(err, err_len, "cannot start the password-checking threads: %s", strerror(e));
        return -e;
    }
    a = calloc(1, sizeof *a);
    if (!a || !(a->slots = calloc(CACHE_SLOTS, sizeof *a->slots)) ||
        !(a->realm = strdup(realm ? realm : AUTH_DEFAULT_REALM)) || !(a->path = strdup(path))) {
        auth_close(a);
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    if (auth_users_load(path, &a->users, open_report, &rep) < 0) {
        auth_close(a);
        return -EINVAL;
    }
    a->version = atomic_fetch_add(&next_version, 1);
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

void auth_close(struct auth *a)
{
    if (!a)
        return;
    if (a->version)
        pthread_mutex_destroy(&a->lock);
    auth_users_free(&a->users);
    free(a->slots);
    free(a->realm);
    free(a->path);
    free(a);
}

/* ---- the cache of successful checks ------------------------------------- */

/* HMAC-SHA-256 under the process's key of the file's version and the
 * credentials as sent: the cache holds no password, and nobody can make
 * two credentials collide in it. */
static void cred_mac(const struct auth *a, const char *cred, size_t len, unsigned char mac[32])
{
    unsigned char msg[sizeof a->version + CRED_MAX];
    unsigned int mac_len = 32;

    memcpy(msg, &a->version, sizeof a->version);
    memcpy(msg + sizeof a->version, cred, len);
    HMAC(EVP_sha256(), mac_key, sizeof mac_key, msg, sizeof a->version + len, mac, &mac_len);
    OPENSSL_cleanse(msg, sizeof msg);
}

static size_t slot_of(const unsigned char mac[32])
{
    return ((size_t)mac[0] | (size_t)mac[1] << 8) % CACHE_SLOTS;
}

static bool cache_has(struct auth *a, const unsigned char mac[32])
{
    bool hit;

    pthread_mutex_lock(&a->lock);
    hit = CRYPTO_memcmp(a->slots[slot_of(mac)], mac, 32) == 0;
    pthread_mutex_unlock(&a->lock);
    return hit;
}

static void cache_put(struct auth *a, const unsigned char mac[32])
{
    pthread_mutex_lock(&a->lock);
    memcpy(a->slots[slot_of(mac)], mac, 32);
    pthread_mutex_unlock(&a->lock);
}

/* ---- the hash check, on a pool thread ----------------------------------- */

struct check_job {
    struct workpool_job base;
    bool match;
    char hash[CRYPT_OUTPUT_SIZE];
    char password[CRED_MAX + 1];
};

static void check_run(struct workpool_job *job)
{
    struct check_job *j = (struct check_job *)job;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *out = cd ? crypt_rn(j->password, j->hash, cd, sizeof *cd) : NULL;
    size_t len = strlen(j->hash);

    j->match = out && strlen(out) == len && CRYPTO_memcmp(out, j->hash, len) == 0;
    if (cd)
        OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
}

static void check_free(struct workpool_job *job)
{
    OPENSSL_cleanse(job, sizeof(struct check_job));
    free(job);
}

/* Runs crypt on a pool thread: 1 for a match, 0 for none, -errno. */
static int check_hash(struct http_exchange *x, const char *hash, const char *password, size_t len)
{
    struct check_job *j = calloc(1, sizeof *j);
    int r;

    if (!j)
        return -ENOMEM;
    j->base = (struct workpool_job){.run = check_run, .free = check_free};
    snprintf(j->hash, sizeof j->hash, "%s", hash);
    memcpy(j->password, password, len);
    r = workpool_run(handlers_pool(), x->loop, &j->base);
    if (r < 0) {
        check_free(&j->base);
        return r;
    }
    r = j->match;
    check_free(&j->base);
    return r;
}

/* ---- the request -------------------------------------------------------- */

/* Decodes "Basic TOKEN" into cred (NUL-terminated, no NUL inside) and
 * returns its length, or -1 when the header is not that. */
static int decode_basic(const char *v, size_t len, char cred[CRED_MAX + 1])
{
    unsigned char out[CRED_MAX + 4];
    size_t pad = 0;
    int n;

    if (len < 6 || strncasecmp(v, "basic", 5) != 0 || v[5] != ' ')
        return -1;
    for (v += 6, len -= 6; len > 0 && *v == ' '; v++, len--)
        ;
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof out)
        return -1;
    pad = (v[len - 1] == '=') + (v[len - 2] == '=');
    n = EVP_DecodeBlock(out, (const unsigned char *)v, (int)len);
    if (n < 0 || (size_t)n < pad || (size_t)n - pad > CRED_MAX)
        return -1;
    n -= (int)pad;
    if (memchr(out, '\0', (size_t)n)) {
        OPENSSL_cleanse(out, sizeof out);
        return -1;
    }
    memcpy(cred, out, (size_t)n);
    cred[n] = '\0';
    OPENSSL_cleanse(out, sizeof out);
    return n;
}

static void reply_401(struct http_exchange *x, const struct auth *a)
{
    size_t len;
    const char *body = http_status_body(401, &len);

    if (http_resp_begin(x, 401) < 0)
        return;
    http_resp_headerf(x, "WWW-Authenticate", "Basic realm=\"%s\", charset=\"UTF-8\"", a->realm);
    http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    http_resp_body(x, body, len);
}

/* A failed attempt, logged at most FAIL_LOGS_PER_SEC times a second per
 * route; the user is printed with unprintable bytes as '?'. */
static void log_failure(struct http_exchange *x, struct auth *a, const char *user, size_t len,
                        const char *why)
{
    uint64_t second = loop_now(x->loop) / 1000, seen = atomic_load(&a->log_second);
    char client[64], name[65];
    size_t n = len < sizeof name - 1 ? len : sizeof name - 1;

    if (seen != second && atomic_compare_exchange_strong(&a->log_second, &seen, second))
        atomic_store(&a->log_count, 0);
    if (atomic_fetch_add(&a->log_count, 1) >= FAIL_LOGS_PER_SEC)
        return;
    for (size_t i = 0; i < n; i++)
        name[i] = user[i] < 0x20 || user[i] == 0x7f || user[i] == '\'' ? '?' : user[i];
    name[n] = '\0';
    if (x->peer)
        net_addr_text(x->peer, x->peer_len, client, sizeof client);
    else
        snprintf(client, sizeof client, "unknown");
    log_warn("auth %s: %s: user '%s' from %s", a->path, why, name, client);
}

/* 1 when cred ("user:password") matches (*user: who), 0 when not, -errno. */
static int verify(struct http_exchange *x, struct auth *a, const char *cred, size_t len,
                  const struct auth_user **user)
{
    const char *colon = memchr(cred, ':', len);
    const struct auth_user *u;
    unsigned char mac[32];
    int r;

    if (!colon)
        return 0;
    u = auth_users_find(&a->users, cred, (size_t)(colon - cred));
    *user = u;
    cred_mac(a, cred, len, mac);
    if (u && cache_has(a, mac))
        return 1;
    if (!u && a->users.n == 0)
        return 0;
    /* An unknown user costs a hash check too: timing tells nothing. */
    r = check_hash(x, u ? u->hash : a->users.v[0].hash, colon + 1,
                   len - (size_t)(colon - cred) - 1);
    if (r == 1 && u)
        cache_put(a, mac);
    if (r == 1 && !u)
        r = 0;
    if (r == 0)
        log_failure(x, a, cred, (size_t)(colon - cred), u ? "wrong password" : "unknown user");
    return r;
}

bool auth_check(struct http_exchange *x, struct auth *a)
{
    const struct auth_user *user = NULL;
    char cred[CRED_MAX + 1];
    size_t len;
    const char *value = http_req_header(x, "Authorization", &len);
    int n = value ? decode_basic(value, len, cred) : -1, r;

    if (n < 0) {
        reply_401(x, a);
        return false;
    }
    r = verify(x, a, cred, (size_t)n, &user);
    OPENSSL_cleanse(cred, sizeof cred);
    if (r == 1) {
        x->auth_user = user->name;
        return true;
    }
    if (r < 0)
        http_resp_error(x, 503, NULL);
    else
        reply_401(x, a);
    return false;
}

static void describe_report(void *ctx, const char *msg) { fprintf(ctx, "auth_error: %s\n", msg); }

void auth_describe(FILE *out, const char *realm, const char *path, const char *whose)
{
    int n;

    if (!path)
        return;
    n = auth_file_check(path, describe_report, out);
    if (n >= 0)
        fprintf(out,
                "auth: basic, realm \"%s\", %d users from %s (%s; 401 without valid "
                "credentials)\n",
                realm ? realm : AUTH_DEFAULT_REALM, n, path, whose);
}
