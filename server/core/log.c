/* log.c - the error log: one write per line, to stderr or a file. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic int log_level = LOG_LVL_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static _Atomic bool log_journal_prefix = false;

void log_set_level(enum log_level level) { atomic_store(&log_level, (int)level); }

enum log_level log_get_level(void) { return (enum log_level)atomic_load(&log_level); }

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected to us. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;

    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

int log_open(const char *path)
{
    int fd = STDERR_FILENO, old;

    if (path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -errno;
    }
    atomic_store(&log_journal_prefix, !path && stderr_is_journal());
    old = atomic_exchange(&log_fd, fd);
    if (old != STDERR_FILENO && old != fd)
        close(old);
    return 0;
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR: return "error";
    case LOG_LVL_WARN: return "warning";
    case LOG_LVL_INFO: return "info";
    default: return "debug";
    }
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    int n, m;

    if ((int)level > atomic_load(&log_level))
        return;
    if (atomic_load(&log_journal_prefix))
        n = snprintf(line, sizeof line, "<%d>", (int)level);
    else
        n = snprintf(line, sizeof line, "cohttpd[%ld]: %s: ", (long)getpid(), level_name(level));
    m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    if ((size_t)m > sizeof line - (size_t)n - 2)
        m = (int)(sizeof line - (size_t)n - 2);
    n += m;
    line[n++] = '\n';
    if (write(atomic_load(&log_fd), line, (size_t)n) < 0) {
        /* Nowhere left to report it. */
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
