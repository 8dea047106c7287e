/* static_index.c - HTML listings of directories without an index file (autoindex). */
#include "handlers/static_index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/date.h"
#include "http/url.h"

#define OUT_CAP (16 * 1024) /* listing bytes gathered before each write */

struct index_entry {
    char *name;
    uint64_t size;
    int64_t mtime;
    bool dir;
    bool link; /* a symlink, shown but not followed */
};

struct listing {
    struct index_entry *v;
    size_t n, cap;
    bool truncated;
};

/* The listing's HTML on its way out, in OUT_CAP pieces. */
struct out {
    struct http_exchange *x;
    char *buf;
    size_t len;
    int err;
};

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
}

static bool listing_grow(struct listing *l)
{
    size_t cap = l->cap ? l->cap * 2 : 64;
    struct index_entry *v;

    if (cap > STATIC_INDEX_MAX)
        cap = STATIC_INDEX_MAX;
    v = realloc(l->v, cap * sizeof *v);
    if (!v)
        return false;
    l->v = v;
    l->cap = cap;
    return true;
}

/* Adds one directory entry; false when memory runs out. */
static bool listing_add(struct listing *l, int dfd, const char *name)
{
    struct index_entry *e;
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return true; /* gone meanwhile */
    if (l->n == l->cap && !listing_grow(l))
        return false;
    e = &l->v[l->n];
    *e = (struct index_entry){
        .name = strdup(name),
        .size = (uint64_t)st.st_size,
        .mtime = st.st_mtim.tv_sec,
        .dir = S_ISDIR(st.st_mode),
        .link = S_ISLNK(st.st_mode),
    };
    if (!e->name)
        return false;
    l->n++;
    return true;
}

/* Reads the directory fd (taken) into l: at most STATIC_INDEX_MAX entries. */
static int listing_read(int fd, bool dotfiles, struct listing *l)
{
    DIR *d = fdopendir(fd);
    struct dirent *de;
    int r = 0;

    if (!d) {
        r = -errno;
        close(fd);
        return r;
    }
    while ((de = readdir(d))) {
        const char *name = de->d_name;

        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || (name[0] == '.' && !dotfiles))
            continue;
        if (l->n == STATIC_INDEX_MAX) {
            l->truncated = true;
            break;
        }
        if (!listing_add(l, dirfd(d), name)) {
            r = -ENOMEM;
            break;
        }
    }
    closedir(d);
    return r;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct index_entry *)a)->name, ((const struct index_entry *)b)->name);
}

static void out_flush(struct out *o)
{
    if (o->err == 0 && o->len > 0)
        o->err = http_resp_write(o->x, o->buf, o->len);
    o->len = 0;
}

/* Makes room for n more bytes (n <= OUT_CAP). */
static char *out_room(struct out *o, size_t n)
{
    if (OUT_CAP - o->len < n)
        out_flush(o);
    return o->buf + o->len;
}

static void out_text(struct out *o, const char *s)
{
    size_t n = strlen(s);

    memcpy(out_room(o, n), s, n);
    o->len += n;
}

static void out_html(struct out *o, const char *s, size_t len)
{
    size_t n = url_html_escape(s, len, NULL, 0);

    if (n >= OUT_CAP)
        return; /* no name is that long: NAME_MAX is 255 */
    o->len += url_html_escape(s, len, out_room(o, n + 1), n + 1);
}

static void out_href(struct out *o, const char *s, size_t len)
{
    size_t n = url_percent_encode_path(s, len, NULL, 0);

    if (n >= OUT_CAP)
        return;
    o->len += url_percent_encode_path(s, len, out_room(o, n + 1), n + 1);
}

static void out_row(struct out *o, const struct index_entry *e)
{
    char cells[96], date[HTTP_DATE_LEN + 1];
    size_t name_len = strlen(e->name);
    int n;

    http_date_format(e->mtime, date);
    out_text(o, "<tr><td><a href=\"");
    out_href(o, e->name, name_len);
    out_text(o, e->dir ? "/\">" : "\">");
    out_html(o, e->name, name_len);
    out_text(o, e->dir ? "/</a></td>" : "</a></td>");
    if (e->dir || e->link)
        n = snprintf(cells, sizeof cells, "<td>-</td><td>%s</td></tr>\n", date);
    else
        n = snprintf(cells, sizeof cells, "<td>%llu</td><td>%s</td></tr>\n",
                     (unsigned long long)e->size, date);
    if (n > 0 && (size_t)n < sizeof cells)
        out_text(o, cells);
}

static void out_page(struct out *o, const struct listing *l)
{
    const struct http_exchange *x = o->x;

    out_text(o, "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Index of ");
    out_html(o, x->path, x->path_len);
    out_text(o, "</title></head>\n<body>\n<h1>Index of ");
    out_html(o, x->path, x->path_len);
    out_text(o, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n");
    if (x->path_len > 1)
        out_text(o, "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n");
    for (size_t i = 0; i < l->n; i++)
        out_row(o, &l->v[i]);
    out_text(o, "</table>\n");
    if (l->truncated)
        out_text(o, "<p>This listing is truncated.</p>\n");
    out_text(o, "</body>\n</html>\n");
    out_flush(o);
}

int static_index_serve(struct http_exchange *x, const struct static_root *root, const char *rel)
{
    const struct static_conf *conf = root->conf;
    struct listing l = {0};
    struct out o = {.x = x};
    int fd = static_open_beneath(root, rel, O_RDONLY | O_DIRECTORY), r;

    if (fd < 0)
        return fd;
    r = listing_read(fd, conf->dotfiles == STATIC_DOTFILES_ALLOW, &l);
    o.buf = malloc(OUT_CAP);
    if (r < 0 || !o.buf) {
        listing_free(&l);
        free(o.buf);
        return r < 0 ? r : -ENOMEM;
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, entry_cmp);
    if (http_resp_begin(x, 200) == 0) {
        http_resp_header(x, "Content-Type", 12, "text/html; charset=utf-8", 24);
        static_add_conf_headers(x, conf);
        if (http_resp_stream(x, -1) == 0) {
            out_page(&o, &l);
            if (o.err == 0)
                http_resp_finish(x);
        }
    }
    listing_free(&l);
    free(o.buf);
    return 0;
}
