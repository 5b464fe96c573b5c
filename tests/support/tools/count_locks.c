/* LD_PRELOAD shim for the tests: counts the file-lock calls a process makes,
   and changes nothing about them (it can be combined with another shim such
   as blobfetch_noop_flock; each call goes on to the next definition).

   Contract
   - flock=<n>: every call of flock(), whatever the operation or the result.
   - fcntl_lock=<m>: every call of fcntl() or fcntl64() whose command is
     F_SETLK, F_SETLKW, F_GETLK, F_OFD_SETLK, F_OFD_SETLKW or F_OFD_GETLK
     (and F_SETLK64/F_SETLKW64/F_GETLK64 where they are distinct commands),
     whatever the result. Other commands are forwarded and not counted.
   - BLOBFETCH_LOCK_LOG=path: at process exit (library destructor; not after
     _exit() or a signal) one line is appended (O_APPEND, one write):
       pid=<pid> flock=<n> fcntl_lock=<m>
     Unset or empty: nothing is written; the calls are still counted.
   - A forked child starts counting again from 0, like an exec'd one.

   glibc: programs built with _FILE_OFFSET_BITS=64 (Python, most of a
   distribution) call fcntl64 (glibc >= 2.28), the others fcntl; both are
   intercepted and forwarded to the same name. lockf() and glibc's own
   internal uses of fcntl (inside lockf, posix_spawn, ...) never pass through
   the PLT and are not counted.

   fcntl is variadic. glibc itself reads the third argument as a pointer for
   every command; here it is read as a pointer for the lock commands and the
   other commands that take a pointer, as an int for those that take an int,
   not at all for those that take none, and as a pointer otherwise.

   Never instrumented (-fno-sanitize=all): it is preloaded ahead of the
   sanitizer runtimes. All state is static (atomic counters); nothing needs
   the constructor to have run. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc's headers rename fcntl to fcntl64 under _FILE_OFFSET_BITS=64; this
   file defines both. */
#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
#error "build without _FILE_OFFSET_BITS=64"
#endif

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef int (*flock_fn)(int, int);

static void *real(void **slot, const char *name) {
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}
static void *g_real_flock, *g_real_fcntl, *g_real_fcntl64;

static unsigned long g_flock;      /* atomic */
static unsigned long g_fcntl_lock; /* atomic */

static pthread_once_t g_config_once = PTHREAD_ONCE_INIT;
static char g_log_path[PATH_MAX];

static void load_config(void) {
    const char *log = getenv("BLOBFETCH_LOCK_LOG");
    if (log && strlen(log) < sizeof g_log_path) strcpy(g_log_path, log);
}

#include "fcntl_args.h"

static int forward_fcntl(void **slot, const char *name, int fd, int cmd, va_list ap) {
    fcntl_fn fn = (fcntl_fn)real(slot, name);
    if (!fn && slot == &g_real_fcntl64) fn = (fcntl_fn)real(&g_real_fcntl, "fcntl");
    if (is_lock_cmd(cmd)) __atomic_add_fetch(&g_fcntl_lock, 1, __ATOMIC_RELAXED);
    return forward_fcntl_to(fn, fd, cmd, ap);
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    int r = forward_fcntl(&g_real_fcntl, "fcntl", fd, cmd, ap);
    va_end(ap);
    return r;
}

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 28)
SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    int r = forward_fcntl(&g_real_fcntl64, "fcntl64", fd, cmd, ap);
    va_end(ap);
    return r;
}
#endif

SHIM_EXPORT int flock(int fd, int operation) {
    __atomic_add_fetch(&g_flock, 1, __ATOMIC_RELAXED);
    flock_fn fn = (flock_fn)real(&g_real_flock, "flock");
    if (!fn) {
        errno = ENOSYS;
        return -1;
    }
    return fn(fd, operation);
}

static void atfork_child(void) {
    __atomic_store_n(&g_flock, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_fcntl_lock, 0, __ATOMIC_SEQ_CST);
}

__attribute__((constructor)) static void count_locks_init(void) {
    pthread_once(&g_config_once, load_config); /* before main() can change the environment */
    pthread_atfork(NULL, NULL, atfork_child);
}

__attribute__((destructor)) static void count_locks_fini(void) {
    int saved = errno;
    pthread_once(&g_config_once, load_config);
    if (g_log_path[0]) {
        char line[128];
        int len = snprintf(line, sizeof line, "pid=%ld flock=%lu fcntl_lock=%lu\n", (long)getpid(),
                           __atomic_load_n(&g_flock, __ATOMIC_SEQ_CST),
                           __atomic_load_n(&g_fcntl_lock, __ATOMIC_SEQ_CST));
        int fd = open(g_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (len > 0) (void)syscall(SYS_write, fd, line, (size_t)len);
            close(fd);
        }
    }
    errno = saved;
}
