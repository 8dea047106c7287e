/* sys.h - the system calls of every request, without glibc's cancellation.
 *
 * Once a process has a second thread, glibc's read(), send() and
 * epoll_wait() switch the calling thread's cancellation type on and off
 * around each call (they are cancellation points): about 40 instructions
 * and a read and write of the thread's descriptor per call. cohttpd never
 * cancels a thread, so the calls made for every request go through
 * syscall() instead. Each returns what the glibc call would: -1 with errno
 * set on failure. */
#ifndef COHTTPD_CORE_SYS_H
#define COHTTPD_CORE_SYS_H

#include <stddef.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline ssize_t sys_read(int fd, void *buf, size_t len)
{
    return syscall(SYS_read, fd, buf, len);
}

/* send(): sendto() without an address, as glibc makes it. */
static inline ssize_t sys_send(int fd, const void *buf, size_t len, int flags)
{
    return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

/* epoll_wait(); where the kernel has only epoll_pwait() (aarch64), that
 * without a signal mask, as glibc makes it there. */
static inline int sys_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
#ifdef SYS_epoll_wait
    return (int)syscall(SYS_epoll_wait, epfd, ev, max, timeout);
#else
    return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout, NULL, (size_t)8);
#endif
}

#endif
