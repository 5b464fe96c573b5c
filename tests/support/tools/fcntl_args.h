/* fcntl's variadic argument, shared by the LD_PRELOAD shims that wrap fcntl
   (count_locks.c, noop_flock.c): which commands are lock commands, and what
   each command's third argument is (none, an int, or a pointer), so that a
   wrapper forwards exactly what it was given. */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

static inline int is_lock_cmd(int cmd) {
    switch (cmd) {
    case F_SETLK:
    case F_SETLKW:
    case F_GETLK:
#ifdef F_OFD_SETLK
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
    case F_OFD_GETLK:
#endif
#if defined(F_SETLK64) && F_SETLK64 != F_SETLK
    case F_SETLK64:
    case F_SETLKW64:
    case F_GETLK64:
#endif
        return 1;
    default:
        return 0;
    }
}

enum arg_kind { ARG_NONE, ARG_INT, ARG_PTR };

static inline enum arg_kind arg_kind(int cmd) {
    if (is_lock_cmd(cmd)) return ARG_PTR;
    switch (cmd) {
    case F_GETFD:
    case F_GETFL:
    case F_GETOWN:
#ifdef F_GETSIG
    case F_GETSIG:
#endif
#ifdef F_GETLEASE
    case F_GETLEASE:
#endif
#ifdef F_GETPIPE_SZ
    case F_GETPIPE_SZ:
#endif
#ifdef F_GET_SEALS
    case F_GET_SEALS:
#endif
        return ARG_NONE;
    case F_DUPFD:
    case F_SETFD:
    case F_SETFL:
    case F_SETOWN:
#ifdef F_DUPFD_CLOEXEC
    case F_DUPFD_CLOEXEC:
#endif
#ifdef F_SETSIG
    case F_SETSIG:
#endif
#ifdef F_SETLEASE
    case F_SETLEASE:
#endif
#ifdef F_NOTIFY
    case F_NOTIFY:
#endif
#ifdef F_SETPIPE_SZ
    case F_SETPIPE_SZ:
#endif
#ifdef F_ADD_SEALS
    case F_ADD_SEALS:
#endif
        return ARG_INT;
    default: /* F_GETOWN_EX, F_SETOWN_EX, the read/write hints, new ones */
        return ARG_PTR;
    }
}


typedef int (*fcntl_fn)(int, int, ...);

/* Calls `fn` (the next fcntl) with exactly the argument `cmd` takes, read
   from `ap`. */
static inline int forward_fcntl_to(fcntl_fn fn, int fd, int cmd, va_list ap) {
    if (!fn) {
        errno = ENOSYS;
        return -1;
    }
    switch (arg_kind(cmd)) {
    case ARG_NONE:
        return fn(fd, cmd);
    case ARG_INT:
        return fn(fd, cmd, va_arg(ap, int));
    default:
        return fn(fd, cmd, va_arg(ap, void *));
    }
}
