/* static.c - the static file handler (minimal: GET/HEAD of regular files). */
#include "handlers/static.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/mime.h"

struct static_root {
    const struct static_conf *conf;
    int dirfd;
};

struct static_root *static_root_open(const struct static_conf *conf)
{
    struct static_root *root = calloc(1, sizeof *root);

    if (!root)
        return NULL;
    root->conf = conf;
    root->dirfd = open(conf->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->dirfd < 0) {
        free(root);
        return NULL;
    }
    return root;
}

void static_root_close(struct static_root *root)
{
    if (!root)
        return;
    close(root->dirfd);
    free(root);
}

static int open_beneath(int dirfd, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };

    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

void static_handle(struct http_exchange *x, struct static_root *root, const char *rest,
                   size_t rest_len)
{
    char path[4096];
    struct stat st;
    const char *type;
    size_t type_len;
    int fd;

    if (x->req->method != HTTP_GET && x->req->method != HTTP_HEAD) {
        http_resp_error(x, 405, "GET, HEAD, OPTIONS");
        return;
    }
    if (rest_len + 16 > sizeof path) {
        http_resp_error(x, 414, NULL);
        return;
    }
    path[0] = '.';
    memcpy(path + 1, rest, rest_len);
    path[rest_len + 1] = '\0';
    if (rest[rest_len - 1] == '/' && root->conf->n_index > 0) {
        size_t il = strlen(root->conf->index[0]);

        if (rest_len + 1 + il >= sizeof path) {
            http_resp_error(x, 414, NULL);
            return;
        }
        memcpy(path + rest_len + 1, root->conf->index[0], il + 1);
    }
    fd = open_beneath(root->dirfd, path);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        http_resp_error(x, 404, NULL);
        return;
    }
    type = mime_lookup(x->site->mime, path, strlen(path), &type_len);
    http_resp_begin(x, 200);
    http_resp_header(x, "Content-Type", 12, type, type_len);
    http_resp_sendfile(x, fd, 0, (size_t)st.st_size);
    close(fd);
}
