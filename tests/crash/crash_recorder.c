/* LD_PRELOAD recorder for the crash-consistency checker (tests/crash/): logs,
   in the order they took effect, every file-system operation a process makes
   on files under one directory, and optionally makes the N-th operation of a
   class fail.

   Contract
   - BLOBFETCH_CRASH_ROOT=<absolute directory without a trailing '/'> (the
     cache directory; no symbolic link in it): operations on it and beneath it
     are recorded. Unset: everything passes through unrecorded.
   - BLOBFETCH_CRASH_LOG=<file>: one line per operation, fields separated by
     one TAB, paths relative to the root ("." is the root itself):
       open    fd path flags-hex        open, open64, openat, openat64, creat,
                                        __open_2 and friends, and openat2 through
                                        syscall(SYS_openat2) (flags of open_how)
       write   fd offset len data-offset fnv1a64-hex
                                        pwrite, pwrite64, pwritev*, write, writev;
                                        the bytes are appended to BLOBFETCH_CRASH_DATA
                                        at data-offset (write/writev: offset is the
                                        file offset before the call)
       trunc   fd len                   ftruncate, ftruncate64
       falloc  fd mode offset len       fallocate, fallocate64, posix_fallocate
       fsync   fd / fdatasync fd
       rename  from to flags            rename, renameat, renameat2 (both names recorded)
       link    from to                  linkat/link; from is "fd:<n>" for
                                        linkat(AT_FDCWD, "/proc/self/fd/<n>", ..., AT_SYMLINK_FOLLOW)
                                        (the O_TMPFILE idiom) and for AT_EMPTY_PATH
       unlink  path / rmdir path / mkdir path
       dup     oldfd newfd              dup, dup2, dup3, fcntl(F_DUPFD, F_DUPFD_CLOEXEC)
       close   fd
       lock    fd cmd type start len ret   fcntl lock commands (not modelled, only logged)
       flock   fd op ret
       fail    <op> errno <the fields>  an operation that failed by itself
       inject  <op> errno <the fields>  an operation made to fail (see below)
       drop    fd offset len            an injected sync failure zeroed this range
     Only successful operations take effect; a line is written while a
     process-wide mutex is held across the real call, so the log order is the
     order of effects (lock waits are not held: they are logged after).
   - BLOBFETCH_CRASH_FAIL=<class>:<n>:<errno> with class one of sync (fsync and
     fdatasync, files and directories), write, rename, open, and errno one of
     EIO, ENOSPC, EACCES: the n-th (1-based) recorded operation of that class
     does not happen and returns -1 with that errno. A failed sync of a
     regular file first zeroes (through the same descriptor, clipped to the
     file's size) every range written to that file since its last successful
     sync, as Linux drops the dirty pages after a writeback error; later syncs
     succeed.
   - The descriptors of the log and data files are kept at or above 900.

   What it cannot see (and why that is fine for blobfetch, checked once with
   strace -f, see tests/crash/MODEL.md): calls glibc makes internally
   (opendir's open, stdio), mmap writes, io_uring, and direct system calls
   other than syscall(SYS_openat2). The engine and the host use none of them on
   the cache's files.

   Never instrumented (-fno-sanitize=all). Build without _FILE_OFFSET_BITS=64. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/openat2.h>
#endif

#include "../support/tools/fcntl_args.h"

#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
#error "build without _FILE_OFFSET_BITS=64"
#endif

#define EXPORT __attribute__((visibility("default")))
#define MAX_FDS 4096
#define MAX_DIRTY 8192

/* ------------------------------------------------------------ real functions */

static void *resolve(void **slot, const char *name) {
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}
#define REAL(ret, name, ...)                                                                        \
    static void *real_##name##_slot;                                                                \
    typedef ret (*name##_fn)(__VA_ARGS__);                                                          \
    static name##_fn real_##name(void) { return (name##_fn)resolve(&real_##name##_slot, #name); }

REAL(int, open, const char *, int, ...)
REAL(int, open64, const char *, int, ...)
REAL(int, openat, int, const char *, int, ...)
REAL(int, openat64, int, const char *, int, ...)
REAL(int, __open_2, const char *, int)
REAL(int, __open64_2, const char *, int)
REAL(int, __openat_2, int, const char *, int)
REAL(int, __openat64_2, int, const char *, int)
REAL(int, creat, const char *, mode_t)
REAL(int, creat64, const char *, mode_t)
REAL(long, syscall, long, ...)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, writev, int, const struct iovec *, int)
REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
REAL(ssize_t, pwrite64, int, const void *, size_t, off64_t)
REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t)
REAL(ssize_t, pwritev64, int, const struct iovec *, int, off64_t)
REAL(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int)
REAL(ssize_t, pwritev64v2, int, const struct iovec *, int, off64_t, int)
REAL(int, ftruncate, int, off_t)
REAL(int, ftruncate64, int, off64_t)
REAL(int, fallocate, int, int, off_t, off_t)
REAL(int, fallocate64, int, int, off64_t, off64_t)
REAL(int, posix_fallocate, int, off_t, off_t)
REAL(int, posix_fallocate64, int, off64_t, off64_t)
REAL(int, fsync, int)
REAL(int, fdatasync, int)
REAL(int, rename, const char *, const char *)
REAL(int, renameat, int, const char *, int, const char *)
REAL(int, renameat2, int, const char *, int, const char *, unsigned)
REAL(int, link, const char *, const char *)
REAL(int, linkat, int, const char *, int, const char *, int)
REAL(int, unlink, const char *)
REAL(int, unlinkat, int, const char *, int)
REAL(int, rmdir, const char *)
REAL(int, mkdir, const char *, mode_t)
REAL(int, mkdirat, int, const char *, mode_t)
REAL(int, close, int)
REAL(int, dup, int)
REAL(int, dup2, int, int)
REAL(int, dup3, int, int, int)
REAL(int, fcntl, int, int, ...)
REAL(int, fcntl64, int, int, ...)
REAL(int, flock, int, int)

/* ------------------------------------------------------------ state */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_root[PATH_MAX];
static size_t g_root_len;
static int g_log_fd = -1, g_data_fd = -1;
static uint64_t g_data_off;
static char g_fail_class[16];
static unsigned long g_fail_n;
static int g_fail_errno;
static unsigned long g_class_count[4]; /* sync, write, rename, open */
enum { C_SYNC, C_WRITE, C_RENAME, C_OPEN };
static const char *const k_class_names[] = {"sync", "write", "rename", "open"};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_fd_path[MAX_FDS]; /* relative path of a tracked descriptor, NULL: untracked */
struct dirty {
    dev_t dev;
    ino_t ino;
    off_t start, end;
};
static struct dirty g_dirty[MAX_DIRTY]; /* unsynced written ranges, for injected sync failures */
static unsigned g_ndirty;
static __thread int t_in; /* inside the recorder on this thread: pass through */

static long raw(long n, long a, long b, long c, long d) {
    return real_syscall()(n, a, b, c, d, 0, 0);
}

static void write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        long w = raw(SYS_write, fd, (long)c, (long)n, 0);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        c += w;
        n -= (size_t)w;
    }
}

static int high_fd(int fd) {
    if (fd < 0) return fd;
    int h = (int)raw(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900, 0);
    raw(SYS_close, fd, 0, 0, 0);
    return h;
}

static void load(void) {
    const char *root = getenv("BLOBFETCH_CRASH_ROOT");
    if (!root || root[0] != '/' || strlen(root) >= sizeof g_root) return;
    strcpy(g_root, root);
    g_root_len = strlen(g_root);
    while (g_root_len > 1 && g_root[g_root_len - 1] == '/') g_root[--g_root_len] = '\0';
    const char *log = getenv("BLOBFETCH_CRASH_LOG");
    if (log) g_log_fd = high_fd((int)raw(SYS_openat, AT_FDCWD, (long)log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    const char *data = getenv("BLOBFETCH_CRASH_DATA");
    if (data) {
        g_data_fd = high_fd((int)raw(SYS_openat, AT_FDCWD, (long)data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
        struct stat st;
        if (g_data_fd >= 0 && fstat(g_data_fd, &st) == 0) g_data_off = (uint64_t)st.st_size;
    }
    const char *fail = getenv("BLOBFETCH_CRASH_FAIL");
    if (fail && *fail) {
        char cls[16], err[16];
        unsigned long n = 0;
        if (sscanf(fail, "%15[a-z]:%lu:%15[A-Z]", cls, &n, err) == 3 && n > 0) {
            strcpy(g_fail_class, cls);
            g_fail_n = n;
            g_fail_errno = strcmp(err, "EIO") == 0      ? EIO
                           : strcmp(err, "ENOSPC") == 0 ? ENOSPC
                           : strcmp(err, "EACCES") == 0 ? EACCES
                                                        : EIO;
        }
    }
}
static int enabled(void) {
    int saved = errno;
    pthread_once(&g_once, load);
    errno = saved;
    return g_root_len > 0 && !t_in;
}

static void lock(void) {
    pthread_mutex_lock(&g_mu);
    t_in = 1;
}
static void unlock(void) {
    t_in = 0;
    pthread_mutex_unlock(&g_mu);
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    if (g_log_fd < 0) return;
    char line[3 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    write_all(g_log_fd, line, (size_t)n);
}

/* ------------------------------------------------------------ paths */

/* Joins base and name lexically (removing "." and "//"; ".." is kept). */
static void join(char *out, size_t cap, const char *base, const char *name) {
    int w = name[0] == '/' ? snprintf(out, cap, "%s", name) : snprintf(out, cap, "%s/%s", base, name);
    if (w < 0 || (size_t)w >= cap) out[0] = '\0'; /* too long: matches no root */
    size_t len;
    /* strip "/." components and trailing slashes */
    char *s;
    while ((s = strstr(out, "/./")) != NULL) memmove(s, s + 2, strlen(s + 2) + 1);
    while ((s = strstr(out, "//")) != NULL) memmove(s, s + 1, strlen(s + 1) + 1);
    len = strlen(out);
    if (len >= 2 && strcmp(out + len - 2, "/.") == 0) out[len -= 2] = '\0';
    while (len > 1 && out[len - 1] == '/') out[--len] = '\0';
}

/* The absolute path of a descriptor's file (for an untracked dirfd). */
static int fd_abs(int fd, char *out, size_t cap) {
    if (fd >= 0 && fd < MAX_FDS && g_fd_path[fd]) {
        int n = strcmp(g_fd_path[fd], ".") == 0 ? snprintf(out, cap, "%s", g_root)
                                                : snprintf(out, cap, "%s/%s", g_root, g_fd_path[fd]);
        return n >= 0 && (size_t)n < cap ? 0 : -1;
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, out, cap - 1);
    if (n <= 0) return -1;
    out[n] = '\0';
    return 0;
}

/* The path relative to the root of (dirfd, name), or NULL when outside it. */
static const char *rel(int dirfd, const char *name, char *buf, size_t cap) {
    char base[PATH_MAX], full[2 * PATH_MAX];
    if (!name) return NULL;
    if (name[0] == '/') {
        join(full, sizeof full, "", name);
    } else {
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base)) return NULL;
        } else if (fd_abs(dirfd, base, sizeof base) != 0) {
            return NULL;
        }
        join(full, sizeof full, base, name);
    }
    if (strncmp(full, g_root, g_root_len) != 0) return NULL;
    if (full[g_root_len] == '\0') {
        snprintf(buf, cap, ".");
        return buf;
    }
    if (full[g_root_len] != '/') return NULL;
    snprintf(buf, cap, "%s", full + g_root_len + 1);
    return buf;
}

static int tracked(int fd) { return fd >= 0 && fd < MAX_FDS && g_fd_path[fd] != NULL; }

static void set_fd(int fd, const char *path) {
    if (fd < 0 || fd >= MAX_FDS) return;
    free(g_fd_path[fd]);
    g_fd_path[fd] = path ? strdup(path) : NULL;
}

/* ------------------------------------------------------------ faults */

/* Whether this operation of `cls` is the one to fail (g_mu held). */
static int inject(int cls) {
    unsigned long n = ++g_class_count[cls];
    return g_fail_n && strcmp(g_fail_class, k_class_names[cls]) == 0 && n == g_fail_n;
}

static void note_dirty(int fd, off_t start, ssize_t n) {
    struct stat st;
    if (n <= 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || g_ndirty == MAX_DIRTY) return;
    g_dirty[g_ndirty++] = (struct dirty){st.st_dev, st.st_ino, start, start + n};
}

static void clear_dirty(int fd, int zero) {
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    static const char zeros[65536];
    unsigned k = 0;
    for (unsigned i = 0; i < g_ndirty; ++i) {
        struct dirty d = g_dirty[i];
        if (d.dev != st.st_dev || d.ino != st.st_ino) {
            g_dirty[k++] = d;
            continue;
        }
        if (!zero) continue;
        off_t end = d.end < st.st_size ? d.end : st.st_size;
        if (d.start < end) logf_("drop\t%d\t%lld\t%lld", fd, (long long)d.start, (long long)(end - d.start));
        for (off_t at = d.start; at < end;) {
            size_t len = (size_t)(end - at) < sizeof zeros ? (size_t)(end - at) : sizeof zeros;
            ssize_t w = real_pwrite()(fd, zeros, len, at);
            if (w <= 0) break;
            at += w;
        }
    }
    g_ndirty = k;
}

/* ------------------------------------------------------------ open */

static int finish_open(int fd, const char *r, int flags, int e, int failed_inject) {
    if (failed_inject) {
        logf_("inject\topen\t%d\t%s\t%x", e, r, (unsigned)flags);
    } else if (fd < 0) {
        logf_("fail\topen\t%d\t%s\t%x", e, r, (unsigned)flags);
    } else {
        set_fd(fd, r);
        logf_("open\t%d\t%s\t%x", fd, r, (unsigned)flags);
    }
    return fd;
}

#define OPEN_BODY(DIRFD, PATH, FLAGS, CALL)                                                          \
    if (!enabled()) return CALL;                                                                     \
    char rb[PATH_MAX];                                                                               \
    lock();                                                                                          \
    const char *r = rel(DIRFD, PATH, rb, sizeof rb);                                                 \
    if (!r) {                                                                                        \
        unlock();                                                                                    \
        return CALL;                                                                                 \
    }                                                                                                \
    int inj = inject(C_OPEN);                                                                        \
    int fd = inj ? -1 : CALL;                                                                        \
    int e = inj ? g_fail_errno : errno;                                                              \
    finish_open(fd, r, FLAGS, e, inj);                                                               \
    unlock();                                                                                        \
    errno = e;                                                                                       \
    return fd;

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(AT_FDCWD, path, flags, real_open()(path, flags, mode))
}
EXPORT int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(AT_FDCWD, path, flags, real_open64()(path, flags, mode))
}
EXPORT int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(dirfd, path, flags, real_openat()(dirfd, path, flags, mode))
}
EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(dirfd, path, flags, real_openat64()(dirfd, path, flags, mode))
}
EXPORT int __open_2(const char *path, int flags) { OPEN_BODY(AT_FDCWD, path, flags, real___open_2()(path, flags)) }
EXPORT int __open64_2(const char *path, int flags) {
    OPEN_BODY(AT_FDCWD, path, flags, real___open64_2()(path, flags))
}
EXPORT int __openat_2(int dirfd, const char *path, int flags) {
    OPEN_BODY(dirfd, path, flags, real___openat_2()(dirfd, path, flags))
}
EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
    OPEN_BODY(dirfd, path, flags, real___openat64_2()(dirfd, path, flags))
}
EXPORT int creat(const char *path, mode_t mode) {
    OPEN_BODY(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, real_creat()(path, mode))
}
EXPORT int creat64(const char *path, mode_t mode) {
    OPEN_BODY(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, real_creat64()(path, mode))
}

EXPORT long syscall(long n, ...) {
    va_list ap;
    va_start(ap, n);
    long a[6];
    for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
    va_end(ap);
#if defined(SYS_openat2)
    if (n == SYS_openat2 && enabled()) {
        const struct open_how *how = (const struct open_how *)a[2];
        const int flags = how ? (int)how->flags : 0;
        OPEN_BODY((int)a[0], (const char *)a[1], flags, (int)real_syscall()(n, a[0], a[1], a[2], a[3], a[4], a[5]))
    }
#endif
    return real_syscall()(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ------------------------------------------------------------ writes */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

/* After a successful write of n bytes from iov at offset (g_mu held). */
static void log_write(int fd, off_t offset, const struct iovec *iov, int iovcnt, ssize_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    uint64_t at = g_data_off;
    size_t left = (size_t)n;
    for (int i = 0; i < iovcnt && left > 0; ++i) {
        size_t len = iov[i].iov_len < left ? iov[i].iov_len : left;
        h = fnv(h, iov[i].iov_base, len);
        if (g_data_fd >= 0) write_all(g_data_fd, iov[i].iov_base, len);
        left -= len;
    }
    g_data_off += (uint64_t)n;
    note_dirty(fd, offset, n);
    logf_("write\t%d\t%lld\t%lld\t%llu\t%016llx", fd, (long long)offset, (long long)n, (unsigned long long)at,
          (unsigned long long)h);
}

/* offset < 0: at the file offset (write, writev). */
static ssize_t do_write(int fd, const struct iovec *iov, int iovcnt, off_t offset, ssize_t (*call)(void *), void *ctx) {
    if (!enabled()) return call(ctx);
    lock();
    if (!tracked(fd)) {
        unlock();
        return call(ctx);
    }
    off_t at = offset >= 0 ? offset : lseek(fd, 0, SEEK_CUR);
    ssize_t n;
    int e;
    if (inject(C_WRITE)) {
        n = -1;
        e = g_fail_errno;
        logf_("inject\twrite\t%d\t%d\t%lld", e, fd, (long long)at);
    } else {
        n = call(ctx);
        e = errno;
        if (n > 0) log_write(fd, at, iov, iovcnt, n);
        else if (n < 0) logf_("fail\twrite\t%d\t%d\t%lld", e, fd, (long long)at);
    }
    unlock();
    errno = e;
    return n;
}

struct wctx {
    int kind, fd, iovcnt, flags;
    const void *buf;
    size_t count;
    const struct iovec *iov;
    off_t off;
};
static ssize_t call_w(void *p) {
    struct wctx *c = p;
    switch (c->kind) {
    case 0: return real_write()(c->fd, c->buf, c->count);
    case 1: return real_pwrite()(c->fd, c->buf, c->count, c->off);
    case 2: return real_pwrite64()(c->fd, c->buf, c->count, c->off);
    case 3: return real_writev()(c->fd, c->iov, c->iovcnt);
    case 4: return real_pwritev()(c->fd, c->iov, c->iovcnt, c->off);
    case 5: return real_pwritev64()(c->fd, c->iov, c->iovcnt, c->off);
    case 6: return real_pwritev2()(c->fd, c->iov, c->iovcnt, c->off, c->flags);
    default: return real_pwritev64v2()(c->fd, c->iov, c->iovcnt, c->off, c->flags);
    }
}

EXPORT ssize_t write(int fd, const void *buf, size_t count) {
    struct iovec v = {(void *)buf, count};
    struct wctx c = {0, fd, 1, 0, buf, count, NULL, 0};
    return do_write(fd, &v, 1, -1, call_w, &c);
}
EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t off) {
    struct iovec v = {(void *)buf, count};
    struct wctx c = {1, fd, 1, 0, buf, count, NULL, off};
    return do_write(fd, &v, 1, off, call_w, &c);
}
EXPORT ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t off) {
    struct iovec v = {(void *)buf, count};
    struct wctx c = {2, fd, 1, 0, buf, count, NULL, (off_t)off};
    return do_write(fd, &v, 1, (off_t)off, call_w, &c);
}
EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    struct wctx c = {3, fd, iovcnt, 0, NULL, 0, iov, 0};
    return do_write(fd, iov, iovcnt, -1, call_w, &c);
}
EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off) {
    struct wctx c = {4, fd, iovcnt, 0, NULL, 0, iov, off};
    return do_write(fd, iov, iovcnt, off, call_w, &c);
}
EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t off) {
    struct wctx c = {5, fd, iovcnt, 0, NULL, 0, iov, (off_t)off};
    return do_write(fd, iov, iovcnt, (off_t)off, call_w, &c);
}
EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags) {
    struct wctx c = {6, fd, iovcnt, flags, NULL, 0, iov, off};
    return do_write(fd, iov, iovcnt, off, call_w, &c);
}
EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off64_t off, int flags) {
    struct wctx c = {7, fd, iovcnt, flags, NULL, 0, iov, (off_t)off};
    return do_write(fd, iov, iovcnt, (off_t)off, call_w, &c);
}

/* ------------------------------------------------------------ size */

#define FD_OP(FD, CALL, ...)                                                                          \
    if (!enabled()) return CALL;                                                                     \
    lock();                                                                                          \
    if (!tracked(FD)) {                                                                              \
        unlock();                                                                                    \
        return CALL;                                                                                 \
    }                                                                                                \
    int r = CALL;                                                                                    \
    int e = errno;                                                                                   \
    if (r == 0) logf_(__VA_ARGS__);                                                                  \
    unlock();                                                                                        \
    errno = e;                                                                                       \
    return r;

EXPORT int ftruncate(int fd, off_t len) { FD_OP(fd, real_ftruncate()(fd, len), "trunc\t%d\t%lld", fd, (long long)len) }
EXPORT int ftruncate64(int fd, off64_t len) {
    FD_OP(fd, real_ftruncate64()(fd, len), "trunc\t%d\t%lld", fd, (long long)len)
}
EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
    FD_OP(fd, real_fallocate()(fd, mode, off, len), "falloc\t%d\t%d\t%lld\t%lld", fd, mode, (long long)off,
          (long long)len)
}
EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len) {
    FD_OP(fd, real_fallocate64()(fd, mode, off, len), "falloc\t%d\t%d\t%lld\t%lld", fd, mode, (long long)off,
          (long long)len)
}
/* posix_fallocate returns the error number. */
EXPORT int posix_fallocate(int fd, off_t off, off_t len) {
    if (!enabled()) return real_posix_fallocate()(fd, off, len);
    lock();
    int r = real_posix_fallocate()(fd, off, len);
    if (r == 0 && tracked(fd)) logf_("falloc\t%d\t0\t%lld\t%lld", fd, (long long)off, (long long)len);
    unlock();
    return r;
}
EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len) {
    if (!enabled()) return real_posix_fallocate64()(fd, off, len);
    lock();
    int r = real_posix_fallocate64()(fd, off, len);
    if (r == 0 && tracked(fd)) logf_("falloc\t%d\t0\t%lld\t%lld", fd, (long long)off, (long long)len);
    unlock();
    return r;
}

/* ------------------------------------------------------------ sync */

static int do_sync(int fd, int data_only) {
    int (*call)(int) = data_only ? real_fdatasync() : real_fsync();
    const char *name = data_only ? "fdatasync" : "fsync";
    if (!enabled()) return call(fd);
    lock();
    if (!tracked(fd)) {
        unlock();
        return call(fd);
    }
    int r, e;
    if (inject(C_SYNC)) {
        clear_dirty(fd, 1);
        r = -1;
        e = g_fail_errno;
        logf_("inject\t%s\t%d\t%d", name, e, fd);
    } else {
        r = call(fd);
        e = errno;
        if (r == 0) {
            clear_dirty(fd, 0);
            logf_("%s\t%d", name, fd);
        } else {
            logf_("fail\t%s\t%d\t%d", name, e, fd);
        }
    }
    unlock();
    errno = e;
    return r;
}
EXPORT int fsync(int fd) { return do_sync(fd, 0); }
EXPORT int fdatasync(int fd) { return do_sync(fd, 1); }

/* ------------------------------------------------------------ names */

static int do_rename(int ofd, const char *from, int nfd, const char *to, unsigned flags, int variant) {
    int (*c0)(const char *, const char *) = real_rename();
    int (*c1)(int, const char *, int, const char *) = real_renameat();
    int (*c2)(int, const char *, int, const char *, unsigned) = real_renameat2();
#define CALL_RENAME (variant == 0 ? c0(from, to) : variant == 1 ? c1(ofd, from, nfd, to) : c2(ofd, from, nfd, to, flags))
    if (!enabled()) return CALL_RENAME;
    char a[PATH_MAX], b[PATH_MAX];
    lock();
    const char *ra = rel(ofd, from, a, sizeof a), *rb = rel(nfd, to, b, sizeof b);
    if (!ra && !rb) {
        unlock();
        return CALL_RENAME;
    }
    int r, e;
    if (inject(C_RENAME)) {
        r = -1;
        e = g_fail_errno;
        logf_("inject\trename\t%d\t%s\t%s", e, ra ? ra : "<outside>", rb ? rb : "<outside>");
    } else {
        r = CALL_RENAME;
        e = errno;
        if (r == 0) logf_("rename\t%s\t%s\t%u", ra ? ra : "<outside>", rb ? rb : "<outside>", flags);
        else logf_("fail\trename\t%d\t%s\t%s", e, ra ? ra : "<outside>", rb ? rb : "<outside>");
    }
#undef CALL_RENAME
    unlock();
    errno = e;
    return r;
}
EXPORT int rename(const char *from, const char *to) { return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0, 0); }
EXPORT int renameat(int ofd, const char *from, int nfd, const char *to) { return do_rename(ofd, from, nfd, to, 0, 1); }
EXPORT int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags) {
    return do_rename(ofd, from, nfd, to, flags, 2);
}

#define NAME_OP(DIRFD, PATH, CALL, OPNAME)                                                           \
    if (!enabled()) return CALL;                                                                     \
    char rb[PATH_MAX];                                                                               \
    lock();                                                                                          \
    const char *rp = rel(DIRFD, PATH, rb, sizeof rb);                                                \
    int r = CALL;                                                                                    \
    int e = errno;                                                                                   \
    if (rp && r == 0) logf_("%s\t%s", OPNAME, rp);                                                   \
    unlock();                                                                                        \
    errno = e;                                                                                       \
    return r;

EXPORT int unlink(const char *path) { NAME_OP(AT_FDCWD, path, real_unlink()(path), "unlink") }
EXPORT int unlinkat(int dirfd, const char *path, int flags) {
    NAME_OP(dirfd, path, real_unlinkat()(dirfd, path, flags), (flags & AT_REMOVEDIR) ? "rmdir" : "unlink")
}
EXPORT int rmdir(const char *path) { NAME_OP(AT_FDCWD, path, real_rmdir()(path), "rmdir") }
EXPORT int mkdir(const char *path, mode_t mode) { NAME_OP(AT_FDCWD, path, real_mkdir()(path, mode), "mkdir") }
EXPORT int mkdirat(int dirfd, const char *path, mode_t mode) {
    NAME_OP(dirfd, path, real_mkdirat()(dirfd, path, mode), "mkdir")
}

static int do_link(int ofd, const char *from, int nfd, const char *to, int flags, int variant) {
#define CALL_LINK (variant == 0 ? real_link()(from, to) : real_linkat()(ofd, from, nfd, to, flags))
    if (!enabled()) return CALL_LINK;
    char b[PATH_MAX], a[PATH_MAX], src[64];
    lock();
    const char *rt = rel(nfd, to, b, sizeof b);
    int r = CALL_LINK;
    int e = errno;
    if (rt && r == 0) {
        int n = -1;
        const char *ra = NULL;
        if (variant == 1 && (flags & AT_EMPTY_PATH) && from && from[0] == '\0') n = ofd;
        else if (from && sscanf(from, "/proc/self/fd/%d", &n) == 1) {
        } else {
            n = -1;
            ra = rel(ofd, from, a, sizeof a);
        }
        if (n >= 0) snprintf(src, sizeof src, "fd:%d", n), ra = src;
        logf_("link\t%s\t%s", ra ? ra : "<outside>", rt);
    }
#undef CALL_LINK
    unlock();
    errno = e;
    return r;
}
EXPORT int link(const char *from, const char *to) { return do_link(AT_FDCWD, from, AT_FDCWD, to, 0, 0); }
EXPORT int linkat(int ofd, const char *from, int nfd, const char *to, int flags) {
    return do_link(ofd, from, nfd, to, flags, 1);
}

/* ------------------------------------------------------------ descriptors */

EXPORT int close(int fd) {
    if (!enabled()) return real_close()(fd);
    lock();
    int was = tracked(fd);
    if (was) {
        logf_("close\t%d", fd);
        set_fd(fd, NULL);
    }
    int r = real_close()(fd);
    int e = errno;
    unlock();
    errno = e;
    return r;
}

static int after_dup(int oldfd, int newfd) {
    if (newfd >= 0 && newfd != oldfd) {
        if (tracked(newfd)) logf_("close\t%d", newfd);
        set_fd(newfd, tracked(oldfd) ? g_fd_path[oldfd] : NULL);
        if (tracked(oldfd)) logf_("dup\t%d\t%d", oldfd, newfd);
    }
    return newfd;
}
EXPORT int dup(int fd) {
    if (!enabled()) return real_dup()(fd);
    lock();
    int r = real_dup()(fd), e = errno;
    after_dup(fd, r);
    unlock();
    errno = e;
    return r;
}
EXPORT int dup2(int fd, int to) {
    if (!enabled()) return real_dup2()(fd, to);
    lock();
    int r = real_dup2()(fd, to), e = errno;
    after_dup(fd, r);
    unlock();
    errno = e;
    return r;
}
EXPORT int dup3(int fd, int to, int flags) {
    if (!enabled()) return real_dup3()(fd, to, flags);
    lock();
    int r = real_dup3()(fd, to, flags), e = errno;
    after_dup(fd, r);
    unlock();
    errno = e;
    return r;
}

static int do_fcntl(int (*call)(int, int, ...), int fd, int cmd, va_list ap) {
    enum arg_kind kind = arg_kind(cmd);
    long iarg = 0;
    void *parg = NULL;
    if (kind == ARG_INT) iarg = va_arg(ap, int);
    else if (kind == ARG_PTR) parg = va_arg(ap, void *);
#define CALL_FCNTL (kind == ARG_NONE ? call(fd, cmd) : kind == ARG_INT ? call(fd, cmd, (int)iarg) : call(fd, cmd, parg))
    if (!enabled()) return CALL_FCNTL;
    if (is_lock_cmd(cmd)) {
        /* Not under g_mu: a lock wait must not stop every other thread. */
        int r = CALL_FCNTL, e = errno;
        lock();
        if (tracked(fd)) {
            const struct flock *fl = parg;
            logf_("lock\t%d\t%d\t%d\t%lld\t%lld\t%d", fd, cmd, fl ? fl->l_type : -1, fl ? (long long)fl->l_start : 0,
                  fl ? (long long)fl->l_len : 0, r == 0 ? 0 : e);
        }
        unlock();
        errno = e;
        return r;
    }
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
        lock();
        int r = CALL_FCNTL, e = errno;
        after_dup(fd, r);
        unlock();
        errno = e;
        return r;
    }
    return CALL_FCNTL;
#undef CALL_FCNTL
}
EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    int r = do_fcntl(real_fcntl(), fd, cmd, ap);
    va_end(ap);
    return r;
}
EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    int r = do_fcntl(real_fcntl64(), fd, cmd, ap);
    va_end(ap);
    return r;
}

EXPORT int flock(int fd, int op) {
    if (!enabled()) return real_flock()(fd, op);
    int r = real_flock()(fd, op), e = errno;
    lock();
    if (tracked(fd)) logf_("flock\t%d\t%d\t%d", fd, op, r == 0 ? 0 : e);
    unlock();
    errno = e;
    return r;
}
