/* LD_PRELOAD shim for the tests: fsync()/fdatasync() that fails once with EIO
   the way Linux does after a writeback I/O error. The failing sync reports
   EIO once, the file's dirty pages are dropped (what the disk holds is not
   what was written), and a later sync of the same file "succeeds".

   Contract
   - Every call of fsync() and fdatasync() in the process is counted, 1-based,
     process-wide: files, directories and anything else, from every thread.
     A forked child starts counting again from 0 (like an exec'd one); it keeps
     its parent's record of unsynced writes (the page cache is shared).
   - BLOBFETCH_FAIL_SYNC_N=N (N >= 1): the N-th call does not call the real
     function; it returns -1 with errno EIO. Before it returns, when the
     descriptor is a regular file, every byte range written to that file since
     its last successful fsync/fdatasync is overwritten with zero bytes (the
     zeros stand for what the disk holds), and the file's record is cleared.
     The file is identified by st_dev/st_ino, so writes through any descriptor
     of it count. The zeros are written with the real pwrite() through a fresh
     O_WRONLY descriptor (/proc/self/fd/<fd>), so a read-only or O_APPEND
     descriptor can be synced, and they never extend the file: ranges are
     clipped to its current size. Calls after the N-th behave normally.
     Unset, empty or invalid (a warning goes to stderr): no call fails.
   - Writes are recorded only while a failure is still to come (N set, fewer
     than N syncs so far), only for regular files, and only for what was
     actually written: write, writev (at the offset lseek(fd, 0, SEEK_CUR)
     gave before the call; the offset after it for O_APPEND), pwrite,
     pwrite64, pwritev, pwritev64, pwritev2, pwritev64v2 (at their offset;
     offset -1 and O_APPEND/RWF_APPEND as the kernel treats them). Writes
     through an O_SYNC/O_DSYNC descriptor, or with RWF_SYNC/RWF_DSYNC, are
     durable when they return and are not recorded. A successful real
     fsync/fdatasync of a file clears its record. Ranges are merged when they
     overlap or touch; at most 4096 per file (beyond that the two closest are
     merged, gap included) and 4096 files with unsynced writes at a time
     (further files are not tracked, and an `untracked_files=` line is logged).
   - BLOBFETCH_SYNC_LOG=path: lines appended (O_APPEND, one write each):
       at the injected failure:
         pid=<pid> failed_sync=<N> fd_kind=<file|dir|other> path=<readlink /proc/self/fd/<fd>>
       at process exit (library destructor; not after _exit() or a signal):
         pid=<pid> syncs=<count> failed=<0|1>
   - Without the variables everything passes through; the calls are only
     counted.

   Not modelled: writes through mmap, copy_file_range, sendfile, splice,
   fallocate, ftruncate; sync(), syncfs(), sync_file_range(), msync(); calls
   glibc makes internally (stdio's buffered writes reach the kernel through
   glibc's internal write, which no LD_PRELOAD can see); the errseq rule that
   other descriptors of the file also see the error once.

   Never instrumented (-fno-sanitize=all): it is preloaded ahead of the
   sanitizer runtimes. All state is static and needs no constructor; the
   calls made before the constructor runs (from other libraries'
   constructors) and after the destructor work the same. One mutex guards the
   record; it is held across the real fsync of a regular file, so a write
   recorded after a sync began is never cleared by that sync. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* glibc's headers rename pwrite to pwrite64 (and so on) under
   _FILE_OFFSET_BITS=64, even on 64-bit targets; this file defines both. */
#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
#error "build without _FILE_OFFSET_BITS=64"
#endif

#define SHIM_EXPORT __attribute__((visibility("default")))
#ifndef MAX_FILES
#define MAX_FILES 4096
#endif
#ifndef MAX_RANGES
#define MAX_RANGES 4096
#endif

/* ------------------------------------------------------------ real functions */

typedef int (*sync_fn)(int);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*pwritev64_fn)(int, const struct iovec *, int, off64_t);
typedef ssize_t (*pwritev2_fn)(int, const struct iovec *, int, off_t, int);
typedef ssize_t (*pwritev64v2_fn)(int, const struct iovec *, int, off64_t, int);

/* Resolved on first use; racing threads store the same value. */
static void *real(void **slot, const char *name) {
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}
#define REAL(type, name)                                                                                \
    static void *real_##name##_slot;                                                                   \
    static type real_##name(void) { return (type)real(&real_##name##_slot, #name); }
REAL(sync_fn, fsync)
REAL(sync_fn, fdatasync)
REAL(write_fn, write)
REAL(pwrite_fn, pwrite)
REAL(pwrite64_fn, pwrite64)
REAL(writev_fn, writev)
REAL(pwritev_fn, pwritev)
REAL(pwritev64_fn, pwritev64)
#if defined(RWF_APPEND) || (defined(__GLIBC__) && __GLIBC_PREREQ(2, 26))
#define HAVE_PWRITEV2 1
REAL(pwritev2_fn, pwritev2)
REAL(pwritev64v2_fn, pwritev64v2)
#endif

/* ------------------------------------------------------------ state */

static pthread_once_t g_config_once = PTHREAD_ONCE_INIT;
static unsigned long g_fail_n;     /* 0: never fail */
static char g_log_path[PATH_MAX];  /* empty: no log */
static unsigned long g_syncs;      /* atomic */
static int g_failed;               /* atomic */

struct range {
    off_t start, end; /* [start, end) */
};
struct file_rec {
    dev_t dev;
    ino_t ino;
    unsigned n;      /* 0: the slot is free */
    struct range *r; /* MAX_RANGES + 1 entries, mapped on first use and kept */
};
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct file_rec g_files[MAX_FILES]; /* guarded by g_mu */
static unsigned g_files_used;              /* high-water mark, guarded by g_mu */
static unsigned long g_untracked;          /* atomic */

/* Set while this thread holds g_mu: a signal handler's write or sync in the
   same thread passes through instead of deadlocking. */
static __thread int t_busy __attribute__((tls_model("initial-exec")));

static void raw_write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        long w = syscall(SYS_write, fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void log_line(const char *line) {
    if (!g_log_path[0]) return;
    int saved = errno;
    int fd = open(g_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        raw_write_all(fd, line, strlen(line));
        close(fd);
    }
    errno = saved;
}

static void load_config(void) {
    const char *n = getenv("BLOBFETCH_FAIL_SYNC_N");
    if (n && *n) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(n, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 1 && n[0] != '-' && n[0] != '+') {
            g_fail_n = v;
        } else {
            static const char msg[] = "blobfetch_fail_sync: ignoring BLOBFETCH_FAIL_SYNC_N (want an integer >= 1)\n";
            raw_write_all(2, msg, sizeof msg - 1);
        }
    }
    const char *log = getenv("BLOBFETCH_SYNC_LOG");
    if (log && strlen(log) < sizeof g_log_path) strcpy(g_log_path, log);
}

static void config(void) {
    int saved = errno;
    pthread_once(&g_config_once, load_config);
    errno = saved;
}

/* Whether writes still need recording: a failure is still to come. */
static int tracking(void) {
    config();
    return g_fail_n != 0 && __atomic_load_n(&g_syncs, __ATOMIC_RELAXED) < g_fail_n;
}

static void lock(void) {
    pthread_mutex_lock(&g_mu);
    t_busy = 1;
}
static void unlock(void) {
    t_busy = 0;
    pthread_mutex_unlock(&g_mu);
}

/* ------------------------------------------------------------ the record (g_mu held) */

static struct file_rec *find_file(dev_t dev, ino_t ino, int create) {
    struct file_rec *free_slot = NULL;
    for (unsigned i = 0; i < g_files_used; ++i) {
        struct file_rec *f = &g_files[i];
        if (f->n == 0) {
            if (!free_slot) free_slot = f;
        } else if (f->dev == dev && f->ino == ino) {
            return f;
        }
    }
    if (!create) return NULL;
    if (!free_slot) {
        if (g_files_used == MAX_FILES) {
            __atomic_add_fetch(&g_untracked, 1, __ATOMIC_RELAXED);
            return NULL;
        }
        free_slot = &g_files[g_files_used++];
    }
    if (!free_slot->r) {
        void *m = mmap(NULL, (MAX_RANGES + 1) * sizeof(struct range), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            __atomic_add_fetch(&g_untracked, 1, __ATOMIC_RELAXED);
            return NULL;
        }
        free_slot->r = m;
    }
    free_slot->dev = dev;
    free_slot->ino = ino;
    return free_slot;
}

/* Adds [start, end) to the sorted, disjoint, non-touching ranges of f. */
static void add_range(struct file_rec *f, off_t start, off_t end) {
    struct range *r = f->r;
    unsigned lo = 0, hi = f->n;
    while (lo < hi) { /* the first range that ends at or after start */
        unsigned mid = lo + (hi - lo) / 2;
        if (r[mid].end < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    unsigned i = lo, j = lo;
    while (j < f->n && r[j].start <= end) {
        if (r[j].start < start) start = r[j].start;
        if (r[j].end > end) end = r[j].end;
        ++j;
    }
    if (j == i) { /* nothing to merge with: insert at i */
        memmove(&r[i + 1], &r[i], (f->n - i) * sizeof *r);
        ++f->n;
    } else if (j > i + 1) { /* r[i..j) become one */
        memmove(&r[i + 1], &r[j], (f->n - j) * sizeof *r);
        f->n -= j - i - 1;
    }
    r[i].start = start;
    r[i].end = end;
    if (f->n > MAX_RANGES) { /* out of room: merge the two closest ranges */
        unsigned best = 0;
        for (unsigned k = 1; k + 1 < f->n; ++k)
            if (r[k + 1].start - r[k].end < r[best + 1].start - r[best].end) best = k;
        r[best].end = r[best + 1].end;
        memmove(&r[best + 1], &r[best + 2], (f->n - best - 2) * sizeof *r);
        --f->n;
    }
}

static void note_written(int fd, off_t start, ssize_t n) {
    struct stat st;
    if (n <= 0 || start < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    lock();
    struct file_rec *f = find_file(st.st_dev, st.st_ino, 1);
    if (f) add_range(f, start, start + n);
    unlock();
}

/* What the kernel will do with a write on fd, decided before the call. */
struct write_plan {
    int track;     /* a regular file, not synchronous */
    int append;    /* lands at the end of the file */
    off_t offset;  /* for write/writev: the current offset */
};

static struct write_plan plan_write(int fd, int positional, int rwf_flags) {
    struct write_plan p = {0, 0, -1};
    if (t_busy || !tracking()) return p;
    int saved = errno;
    struct stat st;
    long fl = syscall(SYS_fcntl, fd, F_GETFL);
    if (fl >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(fl & O_DSYNC)) {
        p.track = 1;
        p.append = (fl & O_APPEND) != 0;
#ifdef RWF_DSYNC
        if (rwf_flags & (RWF_DSYNC | RWF_SYNC)) p.track = 0;
#endif
#ifdef RWF_APPEND
        if (rwf_flags & RWF_APPEND) p.append = 1;
#endif
#ifdef RWF_NOAPPEND
        if (rwf_flags & RWF_NOAPPEND) p.append = 0;
#endif
        if (!positional && !p.append) p.offset = lseek(fd, 0, SEEK_CUR);
    }
    (void)rwf_flags;
    errno = saved;
    return p;
}

/* After a write of n bytes that returned: records where they went. */
static void finish_write(int fd, const struct write_plan *p, int positional, off_t offset, ssize_t n) {
    if (!p->track || n <= 0) return;
    int saved = errno;
    off_t start = -1;
    if (p->append) {
        struct stat st; /* at the end, which is where the offset is now for write() */
        off_t end = positional ? (fstat(fd, &st) == 0 ? st.st_size : -1) : lseek(fd, 0, SEEK_CUR);
        if (end >= n) start = end - n;
    } else {
        start = positional ? offset : p->offset;
    }
    note_written(fd, start, n);
    errno = saved;
}

static void zero_range(int fd, off_t start, off_t end) {
    static const char zeros[65536];
    pwrite_fn pw = real_pwrite();
    if (!pw) return;
    while (start < end) {
        size_t len = (size_t)(end - start) < sizeof zeros ? (size_t)(end - start) : sizeof zeros;
        ssize_t w = pw(fd, zeros, len, start);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        start += w;
    }
}

/* Drops the unsynced writes of the file open as fd (g_mu held). */
static void drop_pages(int fd, const struct stat *st) {
    struct file_rec *f = find_file(st->st_dev, st->st_ino, 0);
    if (!f) return;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int wfd = open(proc, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (wfd < 0) {
        long fl = syscall(SYS_fcntl, fd, F_GETFL);
        if (fl >= 0 && (fl & O_ACCMODE) != O_RDONLY && !(fl & O_APPEND)) wfd = fd;
    }
    if (wfd >= 0) {
        struct stat now;
        off_t size = fstat(wfd, &now) == 0 ? now.st_size : st->st_size;
        for (unsigned i = 0; i < f->n && f->r[i].start < size; ++i)
            zero_range(wfd, f->r[i].start, f->r[i].end < size ? f->r[i].end : size);
        if (wfd != fd) close(wfd);
    } else {
        static const char msg[] = "blobfetch_fail_sync: cannot open the file to zero its unsynced writes\n";
        raw_write_all(2, msg, sizeof msg - 1);
    }
    f->n = 0;
}

/* ------------------------------------------------------------ sync */

static int inject_failure(int fd, unsigned long k) {
    struct stat st;
    const char *kind = "other";
    int have_st = fstat(fd, &st) == 0;
    if (have_st && S_ISREG(st.st_mode)) kind = "file";
    if (have_st && S_ISDIR(st.st_mode)) kind = "dir";

    char proc[64], path[PATH_MAX], line[PATH_MAX + 128];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(proc, path, sizeof path - 1);
    path[len > 0 ? len : 0] = '\0';

    int busy = t_busy;
    if (!busy) lock();
    if (!busy && have_st && S_ISREG(st.st_mode)) drop_pages(fd, &st);
    __atomic_store_n(&g_failed, 1, __ATOMIC_SEQ_CST);
    snprintf(line, sizeof line, "pid=%ld failed_sync=%lu fd_kind=%s path=%s\n", (long)getpid(), k, kind, path);
    log_line(line);
    if (!busy) unlock();
    errno = EIO;
    return -1;
}

static int do_sync(int fd, sync_fn fn) {
    config();
    unsigned long k = __atomic_add_fetch(&g_syncs, 1, __ATOMIC_SEQ_CST);
    if (g_fail_n != 0 && k == g_fail_n) return inject_failure(fd, k);
    if (!fn) {
        errno = ENOSYS;
        return -1;
    }
    struct stat st;
    int saved = errno;
    if (t_busy || g_fail_n == 0 || k > g_fail_n || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errno = saved;
        return fn(fd);
    }
    errno = saved;
    lock();
    int r = fn(fd);
    if (r == 0) {
        struct file_rec *f = find_file(st.st_dev, st.st_ino, 0);
        if (f) f->n = 0;
    }
    int e = errno;
    unlock();
    errno = e;
    return r;
}

SHIM_EXPORT int fsync(int fd) { return do_sync(fd, real_fsync()); }
SHIM_EXPORT int fdatasync(int fd) { return do_sync(fd, real_fdatasync()); }

/* ------------------------------------------------------------ writes */

#define MISSING()        \
    do {                 \
        errno = ENOSYS;  \
        return -1;       \
    } while (0)

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t count) {
    write_fn fn = real_write();
    if (!fn) MISSING();
    struct write_plan p = plan_write(fd, 0, 0);
    ssize_t n = fn(fd, buf, count);
    finish_write(fd, &p, 0, -1, n);
    return n;
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    writev_fn fn = real_writev();
    if (!fn) MISSING();
    struct write_plan p = plan_write(fd, 0, 0);
    ssize_t n = fn(fd, iov, iovcnt);
    finish_write(fd, &p, 0, -1, n);
    return n;
}

SHIM_EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    pwrite_fn fn = real_pwrite();
    if (!fn) MISSING();
    struct write_plan p = plan_write(fd, 1, 0);
    ssize_t n = fn(fd, buf, count, offset);
    finish_write(fd, &p, 1, offset, n);
    return n;
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    pwrite64_fn fn = real_pwrite64();
    if (!fn) MISSING();
    struct write_plan p = plan_write(fd, 1, 0);
    ssize_t n = fn(fd, buf, count, offset);
    finish_write(fd, &p, 1, (off_t)offset, n);
    return n;
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    pwritev_fn fn = real_pwritev();
    if (!fn) MISSING();
    struct write_plan p = plan_write(fd, 1, 0);
    ssize_t n = fn(fd, iov, iovcnt, offset);
    finish_write(fd, &p, 1, offset, n);
    return n;
}

SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset) {
    pwritev64_fn fn = real_pwritev64();
    if (!fn) MISSING();
    struct write_plan p = plan_write(fd, 1, 0);
    ssize_t n = fn(fd, iov, iovcnt, offset);
    finish_write(fd, &p, 1, (off_t)offset, n);
    return n;
}

#ifdef HAVE_PWRITEV2
/* offset -1: at (and moving) the current file offset, like writev. */
SHIM_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    pwritev2_fn fn = real_pwritev2();
    if (!fn) MISSING();
    int positional = offset != -1;
    struct write_plan p = plan_write(fd, positional, flags);
    ssize_t n = fn(fd, iov, iovcnt, offset, flags);
    finish_write(fd, &p, positional, offset, n);
    return n;
}

SHIM_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off64_t offset, int flags) {
    pwritev64v2_fn fn = real_pwritev64v2();
    if (!fn) MISSING();
    int positional = offset != -1;
    struct write_plan p = plan_write(fd, positional, flags);
    ssize_t n = fn(fd, iov, iovcnt, offset, flags);
    finish_write(fd, &p, positional, (off_t)offset, n);
    return n;
}
#endif

/* ------------------------------------------------------------ process life */

static void atfork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_mu); }
static void atfork_child(void) {
    pthread_mutex_unlock(&g_mu);
    __atomic_store_n(&g_syncs, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_failed, 0, __ATOMIC_SEQ_CST);
}

__attribute__((constructor)) static void fail_sync_init(void) {
    config(); /* read the environment before main() can change it */
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

__attribute__((destructor)) static void fail_sync_fini(void) {
    config();
    char line[160];
    snprintf(line, sizeof line, "pid=%ld syncs=%lu failed=%d\n", (long)getpid(),
             __atomic_load_n(&g_syncs, __ATOMIC_SEQ_CST), __atomic_load_n(&g_failed, __ATOMIC_SEQ_CST));
    log_line(line);
    unsigned long untracked = __atomic_load_n(&g_untracked, __ATOMIC_RELAXED);
    if (untracked) {
        snprintf(line, sizeof line, "pid=%ld untracked_files=%lu\n", (long)getpid(), untracked);
        log_line(line);
    }
}
