/* static_cache.c - tests for server/handlers/static_cache.c: the per-worker open-file cache. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "handlers/static.h"
#include "handlers/static_cache.h"

static char dir[64];
static char www[128];
static struct static_conf conf;
static struct static_root *root;
static struct static_cache *cache; /* what one worker keeps for one generation */

static void put(const char *rel, const char *text)
{
    char path[2048];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", www, rel);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void set_mtime(const char *rel, time_t t)
{
    char path[512];
    struct timeval tv[2] = {{.tv_sec = t}, {.tv_sec = t}};

    snprintf(path, sizeof path, "%s/%s", www, rel);
    cr_assert_eq(utimes(path, tv), 0);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/static-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(www, sizeof www, "%s/www", dir);
    cr_assert_eq(mkdir(www, 0755), 0);
    conf = (struct static_conf){.root = www};
    root = static_root_open(&conf);
    cr_assert_not_null(root);
    cache = static_cache_new();
    cr_assert_not_null(cache);
}

static void teardown(void)
{
    char cmd[256];

    static_cache_free(cache);
    static_root_close(root);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(static_cache, .init = setup, .fini = teardown);

static struct static_file *get_ok(const char *rel, uint64_t now)
{
    struct static_file *f = NULL;
    int r = static_file_get(cache, root, rel, strlen(rel), now, &f);

    cr_assert_eq(r, 0, "%s: %s", rel, strerror(-r));
    return f;
}

static int get_err(const char *rel, uint64_t now)
{
    struct static_file *f = NULL;
    int r = static_file_get(cache, root, rel, strlen(rel), now, &f);

    cr_assert_lt(r, 0, "%s should fail", rel);
    return r;
}

Test(static_cache, a_fresh_entry_is_reused_with_its_metadata)
{
    struct static_file *f, *g;

    put("a.txt", "hello");
    set_mtime("a.txt", 784111777);
    f = get_ok("a.txt", 1000);
    cr_assert_eq(f->size, 5);
    cr_assert_not_null(f->data);
    cr_assert_eq(memcmp(f->data, "hello", 5), 0);
    cr_assert_eq(f->mtime, 784111777);
    cr_assert_str_eq(f->last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
    cr_assert_gt(f->etag_len, 2);
    cr_assert_eq(f->etag[0], '"');
    g = get_ok("a.txt", 1500);
    cr_assert_eq(f, g, "a second lookup within the validity period reuses the entry");
    cr_assert_eq(static_cache_count(cache), 1);
    static_file_release(g);
    static_file_release(f);
}

/* A head as http_resp_prepare makes it, with lines for its bytes. */
static struct http_prepared prepared(const char *lines)
{
    struct http_prepared p = {.bytes = strdup(lines), .lines_len = strlen(lines), .status = 200};

    cr_assert_not_null(p.bytes);
    return p;
}

Test(static_cache, a_kept_head_stays_with_the_entry_until_the_file_changes)
{
    static const char lines[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: \"x\"\r\n";
    struct static_file *f;
    struct http_prepared p;

    put("h.txt", "one");
    set_mtime("h.txt", 1000000);
    f = get_ok("h.txt", 1000);
    cr_assert_null(f->head.bytes, "nothing kept before a response made it");
    p = prepared(lines);
    static_file_keep_head(f, &p);
    cr_assert_null(p.bytes, "the entry took the bytes");
    p = prepared(lines);
    static_file_keep_head(f, &p); /* replaced, the old copy freed */
    static_file_release(f);
    f = get_ok("h.txt", 1500);
    cr_assert_not_null(f->head.bytes);
    cr_assert_eq(f->head.lines_len, sizeof lines - 1);
    cr_assert_eq(memcmp(f->head.bytes, lines, sizeof lines - 1), 0);
    static_file_release(f);
    put("h.txt", "three");
    set_mtime("h.txt", 1000001);
    f = get_ok("h.txt", 1000 + STATIC_CACHE_VALID_MS);
    cr_assert_eq(f->size, 5);
    cr_assert_null(f->head.bytes, "a changed file starts without the old file's head");
    static_file_release(f);
}

Test(static_cache, a_changed_file_is_seen_once_the_entry_is_checked_again)
{
    struct static_file *f;
    char etag1[COND_ETAG_MAX];

    put("a.txt", "one");
    set_mtime("a.txt", 1000000);
    f = get_ok("a.txt", 1000);
    memcpy(etag1, f->etag, sizeof etag1);
    static_file_release(f);
    put("a.txt", "three");
    set_mtime("a.txt", 1000001);
    f = get_ok("a.txt", 1000 + STATIC_CACHE_VALID_MS - 1);
    cr_assert_eq(f->size, 3, "within the validity period the entry is trusted");
    static_file_release(f);
    f = get_ok("a.txt", 1000 + STATIC_CACHE_VALID_MS);
    cr_assert_eq(f->size, 5);
    cr_assert_eq(memcmp(f->data, "three", 5), 0);
    cr_assert_str_neq(f->etag, etag1);
    cr_assert_eq(f->mtime, 1000001);
    static_file_release(f);
}

Test(static_cache, a_deleted_file_is_gone_once_checked)
{
    char path[512];

    put("d.txt", "bye");
    static_file_release(get_ok("d.txt", 1000));
    snprintf(path, sizeof path, "%s/d.txt", www);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(get_err("d.txt", 1000 + STATIC_CACHE_VALID_MS + 1), -ENOENT);
    cr_assert_eq(static_cache_count(cache), 0);
}

Test(static_cache, what_is_not_a_regular_file_below_the_root)
{
    char path[512];

    snprintf(path, sizeof path, "%s/sub", www);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/fifo", www);
    cr_assert_eq(mkfifo(path, 0644), 0);
    snprintf(path, sizeof path, "%s/secret", dir);
    cr_assert_eq(close(open(path, O_WRONLY | O_CREAT, 0644)), 0);
    snprintf(path, sizeof path, "%s/out", www);
    cr_assert_eq(symlink("../secret", path), 0);
    snprintf(path, sizeof path, "%s/abs", www);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof path, "%s/proc", www);
    cr_assert_eq(symlink("/proc/self/root/etc/passwd", path), 0);
    cr_assert_eq(get_err("sub", 1), -EISDIR);
    cr_assert_eq(get_err(".", 1), -EISDIR);
    cr_assert_eq(get_err("missing", 1), -ENOENT);
    cr_assert_eq(get_err("fifo", 1), -ENOENT, "a FIFO is neither served nor waited on");
    cr_assert_eq(get_err("out", 1), -EXDEV);
    cr_assert_eq(get_err("abs", 1), -EXDEV);
    cr_assert_eq(get_err("proc", 1), -EXDEV);
    cr_assert_eq(get_err("../secret", 1), -EXDEV);
    cr_assert_eq(get_err("sub/../../secret", 1), -EXDEV);
    cr_assert_eq(static_cache_count(cache), 0);
}

Test(static_cache, a_held_entry_outlives_eviction)
{
    struct static_file *keep;
    char name[32], buf[8];

    put("keep.txt", "keep");
    keep = get_ok("keep.txt", 1);
    for (int i = 0; i < STATIC_CACHE_MAX + 20; i++) {
        snprintf(name, sizeof name, "f%d", i);
        put(name, name);
        static_file_release(get_ok(name, 2));
    }
    cr_assert_eq(static_cache_count(cache), STATIC_CACHE_MAX);
    cr_assert_eq(pread(keep->fd, buf, sizeof buf, 0), 4, "the fd stays open while held");
    cr_assert_eq(memcmp(buf, "keep", 4), 0);
    cr_assert_eq(memcmp(keep->data, "keep", 4), 0);
    static_file_release(keep);
}

Test(static_cache, a_held_entry_outlives_its_replacement)
{
    struct static_file *old, *cur;

    put("v.txt", "old");
    set_mtime("v.txt", 1000000);
    old = get_ok("v.txt", 1);
    put("v.txt", "newer");
    cur = get_ok("v.txt", 1 + STATIC_CACHE_VALID_MS);
    cr_assert_neq(old, cur);
    cr_assert_eq(memcmp(old->data, "old", 3), 0, "the request holding it keeps its copy");
    cr_assert_eq(memcmp(cur->data, "newer", 5), 0);
    static_file_release(old);
    static_file_release(cur);
    cr_assert_eq(static_cache_count(cache), 1);
}

Test(static_cache, large_files_are_sent_from_the_fd)
{
    char *big = malloc(STATIC_CACHE_SMALL_MAX + 2);
    struct static_file *f;

    cr_assert_not_null(big);
    memset(big, 'x', STATIC_CACHE_SMALL_MAX + 1);
    big[STATIC_CACHE_SMALL_MAX + 1] = '\0';
    put("big", big);
    free(big);
    f = get_ok("big", 1);
    cr_assert_eq(f->size, STATIC_CACHE_SMALL_MAX + 1);
    cr_assert_null(f->data);
    cr_assert_geq(f->fd, 0);
    static_file_release(f);
    put("empty", "");
    f = get_ok("empty", 1);
    cr_assert_eq(f->size, 0);
    static_file_release(f);
}

Test(static_cache, idle_entries_are_closed)
{
    put("a", "a");
    put("b", "b");
    static_file_release(get_ok("a", 1));
    cr_assert_eq(static_cache_count(cache), 1);
    static_file_release(get_ok("b", 2 + STATIC_CACHE_IDLE_MS));
    cr_assert_eq(static_cache_count(cache), 1, "the idle entry was closed");
}

Test(static_cache, roots_do_not_share_entries)
{
    char other_dir[128];
    struct static_conf other_conf;
    struct static_root *other;
    struct static_file *f, *g;
    FILE *fp;

    snprintf(other_dir, sizeof other_dir, "%s/other", dir);
    cr_assert_eq(mkdir(other_dir, 0755), 0);
    snprintf(other_dir, sizeof other_dir, "%s/other/a.txt", dir);
    fp = fopen(other_dir, "w");
    fputs("other", fp);
    fclose(fp);
    snprintf(other_dir, sizeof other_dir, "%s/other", dir);
    other_conf = (struct static_conf){.root = other_dir};
    other = static_root_open(&other_conf);
    cr_assert_not_null(other);
    put("a.txt", "mine");
    f = get_ok("a.txt", 1);
    cr_assert_eq(static_file_get(cache, other, "a.txt", 5, 1, &g), 0);
    cr_assert_eq(memcmp(f->data, "mine", 4), 0);
    cr_assert_eq(memcmp(g->data, "other", 5), 0);
    static_file_release(f);
    static_file_release(g);
    static_cache_flush(cache);
    static_root_close(other);
}

Test(static_cache, long_paths_are_served_but_not_kept)
{
    char rel[1400] = "";
    char path[2048];
    struct static_file *f;
    size_t n = 0;

    while (n < 1100) {
        n += (size_t)snprintf(rel + n, sizeof rel - n, "%s", "directory-name-0123456789/");
        snprintf(path, sizeof path, "%s/%s", www, rel);
        cr_assert_eq(mkdir(path, 0755), 0);
    }
    snprintf(rel + n, sizeof rel - n, "f.txt");
    put(rel, "deep");
    f = get_ok(rel, 1);
    cr_assert_eq(memcmp(f->data, "deep", 4), 0);
    cr_assert_eq(static_cache_count(cache), 0);
    static_file_release(f);
}

Test(static_cache, sibling_knowledge_is_forgotten_when_checked)
{
    struct static_file *f;

    put("p.html", "p");
    f = get_ok("p.html", 1);
    f->sibling[STATIC_ENCODING_GZIP] = STATIC_SIBLING_ABSENT;
    static_file_release(f);
    f = get_ok("p.html", 2);
    cr_assert_eq(f->sibling[STATIC_ENCODING_GZIP], STATIC_SIBLING_ABSENT);
    static_file_release(f);
    f = get_ok("p.html", 2 + STATIC_CACHE_VALID_MS);
    cr_assert_eq(f->sibling[STATIC_ENCODING_GZIP], STATIC_SIBLING_UNKNOWN);
    static_file_release(f);
}

/* Descriptors of this process open on files below the test's directory.
 * Only those: criterion's own descriptors (its messages to the runner)
 * come and go while a test runs. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t dir_len = strlen(dir);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[300], target[PATH_MAX];
        ssize_t len;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        len = readlink(path, target, sizeof target - 1);
        if (len > (ssize_t)dir_len && strncmp(target, dir, dir_len) == 0 && target[dir_len] == '/')
            n++;
    }
    closedir(d);
    return n;
}

Test(static_cache, freeing_a_cache_closes_every_file_it_kept)
{
    struct static_cache *gen = static_cache_new();
    int before = count_fds();
    char name[16];

    cr_assert_not_null(gen);
    for (int i = 0; i < 8; i++) {
        struct static_file *f;

        snprintf(name, sizeof name, "f%d.txt", i);
        put(name, "x");
        cr_assert_eq(static_file_get(gen, root, name, strlen(name), 1, &f), 0);
        static_file_release(f);
    }
    cr_assert_eq(static_cache_count(gen), 8);
    cr_assert_eq(count_fds(), before + 8, "each entry keeps its file open");
    static_cache_free(gen);
    cr_assert_eq(count_fds(), before, "the cache's files are closed with it");
}

/* ---- compressed forms under the budget ---------------------------------- */

static struct static_comp *form(size_t len)
{
    struct static_comp *c = calloc(1, sizeof *c + len);

    cr_assert_not_null(c);
    c->refs = 1;
    c->len = len;
    return c;
}

Test(static_cache, compressed_forms_stay_within_the_budget_oldest_first)
{
    struct static_file *a, *b;
    struct static_comp *held;

    put("a.txt", "aaaa");
    put("b.txt", "bbbb");
    cr_assert_eq(static_file_get(cache, root, "a.txt", 5, 1000, &a), 0);
    cr_assert(static_cache_comp_room(cache, 600, 1000));
    static_file_set_comp(a, STATIC_ENCODING_GZIP, form(600));
    held = a->comp[STATIC_ENCODING_GZIP];
    held->refs++; /* a response still sending it */
    static_file_release(a);
    cr_assert_eq(static_file_get(cache, root, "b.txt", 5, 1001, &b), 0);
    cr_assert_eq(static_cache_comp_bytes(cache), 600);
    /* b's form needs room: a's (least recently used) goes */
    cr_assert(static_cache_comp_room(cache, 500, 1000));
    static_file_set_comp(b, STATIC_ENCODING_BR, form(500));
    cr_assert_null(a->comp[STATIC_ENCODING_GZIP]);
    cr_assert_eq(static_cache_comp_bytes(cache), 500);
    cr_assert_eq(held->len, 600, "a form being sent outlives its eviction");
    static_comp_release(held);
    cr_assert_not(static_cache_comp_room(cache, 1001, 1000), "larger than the budget");
    static_file_release(b);
    static_cache_flush(cache);
    cr_assert_eq(static_cache_comp_bytes(cache), 0, "closed entries take their forms along");
}
