/* LD_PRELOAD shim for the tests: file locks that always succeed and lock
   nothing, as they behave on some NFS, CIFS and Lustre mounts (PEERS.md #5):
   flock() returns 0; fcntl()/fcntl64() lock commands (F_SETLK, F_SETLKW,
   F_OFD_SETLK, F_OFD_SETLKW) return 0 and the lock tests (F_GETLK,
   F_OFD_GETLK) report no lock (l_type F_UNLCK). Every other fcntl command is
   forwarded unchanged. Processes started with it must notice that their
   locks are not enforced.

   Never instrumented (-fno-sanitize=all): it is preloaded ahead of the
   sanitizer runtimes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>

#include "fcntl_args.h"

#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
#error "build without _FILE_OFFSET_BITS=64"
#endif

#define SHIM_EXPORT __attribute__((visibility("default")))

SHIM_EXPORT int flock(int fd, int operation) {
    (void)fd;
    (void)operation;
    return 0;
}

static int shim_fcntl(const char *name, int fd, int cmd, va_list ap) {
    if (is_lock_cmd(cmd)) {
        struct flock *fl = va_arg(ap, struct flock *);
        if (cmd == F_GETLK
#ifdef F_OFD_GETLK
            || cmd == F_OFD_GETLK
#endif
#if defined(F_GETLK64) && F_GETLK64 != F_GETLK
            || cmd == F_GETLK64
#endif
        )
            fl->l_type = F_UNLCK;
        return 0;
    }
    fcntl_fn fn = (fcntl_fn)dlsym(RTLD_NEXT, name);
    if (!fn) fn = (fcntl_fn)dlsym(RTLD_NEXT, "fcntl");
    return forward_fcntl_to(fn, fd, cmd, ap);
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    int r = shim_fcntl("fcntl", fd, cmd, ap);
    va_end(ap);
    return r;
}

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 28)
SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    int r = shim_fcntl("fcntl64", fd, cmd, ap);
    va_end(ap);
    return r;
}
#endif
