#ifndef _WIN32
#include "lock/lock_posix.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include <sys/stat.h>
#include <unistd.h>

#include "io/dir_handle.h"
#include "io/file.h"
#include "lock/dir_lock.h"

namespace blobfetch::lockfile {

int ofd(int fd, int cmd, short type, off_t start, off_t len, struct flock *out) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    fl.l_pid = 0;  // required for F_OFD_*
    int r;
    do {
        r = ::fcntl(fd, cmd, &fl);
    } while (r != 0 && errno == EINTR);
    if (r == 0 && out) *out = fl;
    return r;
}

std::string read_line(int fd, off_t offset, std::size_t width) {
    std::string buf(width, '\0');
    ssize_t n;
    do {
        n = ::pread(fd, buf.data(), width, offset);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return {};
    buf.resize(static_cast<std::size_t>(n));
    return first_line(std::move(buf));
}

std::string holder_at(int fd, off_t conflict_start) {
    if (conflict_start < kKeyBase) return clean_holder(read_line(fd, 0, kLineSize));
    const off_t slot = (conflict_start - kKeyBase) % static_cast<off_t>(kSlots);
    return clean_holder(read_line(fd, kSlotBase + slot * kSlotSize, kSlotSize));
}

namespace {

// What is at the lock file's name when it is not a regular file.
std::string what_is(mode_t mode) {
    if (S_ISDIR(mode)) return "is a directory";
    if (S_ISLNK(mode)) return "is a symbolic link";
    if (S_ISFIFO(mode)) return "is a FIFO";
    if (S_ISSOCK(mode)) return "is a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device";
    return "is not a regular file";
}

// Why no lock can be shared through `path`, which `what` (what_is).
std::string not_a_file(const std::string &path, const std::string &what) {
    return "its lock file '" + path + "' " + what + ", not a file, so no lock can be shared through it (whoever " +
           "made it, or root, can remove it to share the lock again)";
}

}  // namespace

Expected<UniqueFd> open_lock_file_to_probe(const std::filesystem::path &path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR) return UniqueFd{};
        if (errno == ELOOP)
            return Status(Errc::io, "the lock file '" + path.string() + "' is a symbolic link, which blobfetch never "
                                    "follows; no lock is kept there");
        return Status(Errc::io, "cannot open the lock file '" + path.string() + "': " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return Status(Errc::io, "cannot inspect the lock file '" + path.string() + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        return Status(Errc::io, "the lock file '" + path.string() + "' " + what_is(st.st_mode) +
                                    "; no lock is kept there");
    return fd;
}

Expected<OpenedLockFile> open_lock_file(const DirHandle &dir) {
    const std::string path = dir.show(kLockFileName).string();
    OpenedLockFile out;
    out.writable = true;
    // (No link is followed, and O_NONBLOCK: a FIFO at the name never makes
    // the open wait for a writer.)
    out.fd = dir.open(kLockFileName, O_CREAT | O_RDWR | O_NONBLOCK, 0666);
    if (!out.fd && errno != EACCES) {
        // Something that is no file at the name (a symbolic link: ELOOP, a
        // directory: EISDIR, a socket: ENXIO, ...), made by anyone: in a
        // shared sticky directory another user's, which this one can never
        // remove. Worked around as an unwritable lock file: private files.
        const int e = errno;
        struct stat st {};
        if (dir.stat(kLockFileName, st) == 0 && !S_ISREG(st.st_mode)) {
            out.writable = false;
            out.why_not = not_a_file(path, what_is(st.st_mode));
            return out;
        }
        errno = e;
    }
    if (!out.fd && errno == EACCES) {
        // Another user's lock file that this one may not write: a write lock
        // needs a writable descriptor, so no lock can be shared through it.
        out.fd = dir.open(kLockFileName, O_RDONLY | O_NONBLOCK);
        out.writable = false;
        out.why_not = "its lock file '" + path +
                      "' belongs to another user and is not writable for this one, so no lock can be shared "
                      "through it (chmod 666 it to share the lock)";
    }
    if (!out.fd && errno == EACCES) {
        // Not even readable (made under a strict umask by an older blobfetch).
        struct stat st {};
        out.why_not = dir.stat(kLockFileName, st) == 0 && !S_ISREG(st.st_mode)
                          ? not_a_file(path, what_is(st.st_mode))
                          : "its lock file '" + path + "' belongs to another user who made it unreadable (chmod 666 "
                            "it to share the lock)";
        return out;
    }
    if (!out.fd) {
        const int e = errno;
        const std::string hint = e == ELOOP ? "; it is a symbolic link, which blobfetch never follows; remove it"
                                            : "; check the permissions of the cache directory";
        return Status(Errc::io, "cannot open the lock file '" + path + "': " + std::strerror(e) + hint);
    }
    struct stat st {};
    if (::fstat(out.fd.get(), &st) != 0)
        return Status(Errc::io, "cannot inspect the lock file '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        // (A FIFO opens, never waiting: O_NONBLOCK.) No lock is kept in it.
        out.fd.reset();
        out.writable = false;
        out.why_not = not_a_file(path, what_is(st.st_mode));
        return out;
    }
    // Writable by every user who may fetch into the directory (its own
    // permissions decide who may), whatever the umask of whoever made it
    // (best effort: only its owner may change it).
    if (out.writable && (st.st_mode & 0777) != 0666 && st.st_uid == ::geteuid()) (void)::fchmod(out.fd.get(), 0666);
    return out;
}

bool no_locks_here(int e) { return e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS || e == EINVAL; }

std::string self_test(const DirHandle &dir, int fd, bool holds_all) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return "cannot inspect the lock file";
    static std::mutex mutex;
    static std::map<dev_t, std::string> known;  // a property of the mount
    {
        std::lock_guard lock(mutex);
        if (auto it = known.find(st.st_dev); it != known.end()) return it->second;
    }
    std::string why;
    if (!holds_all && ofd(fd, F_OFD_SETLK, F_WRLCK, kSelfTestByte, 1) != 0) {
        // Busy: another open file holds the byte, so locks do exclude.
        if (errno != EAGAIN && errno != EACCES) why = "file locks are not supported there (a network file system?)";
    } else {
        // A second open file description of the same file must see the byte
        // as taken. When the name no longer reaches that file (gc removed or
        // replaced it meanwhile), the test proves nothing either way: no
        // verdict is kept for the mount, and the caller's check that the
        // name still refers to the locked file makes it open the file again.
        UniqueFd probe = dir.open(kLockFileName, O_RDONLY | O_NONBLOCK);
        struct stat probed {};
        const bool same_file = probe && ::fstat(probe.get(), &probed) == 0 && probed.st_dev == st.st_dev &&
                               probed.st_ino == st.st_ino;
        struct flock seen {};
        if (same_file &&
            (ofd(probe.get(), F_OFD_GETLK, F_WRLCK, kSelfTestByte, 1, &seen) != 0 || seen.l_type == F_UNLCK))
            why = "file locks are not enforced there (a network file system?)";
        if (!holds_all) (void)ofd(fd, F_OFD_SETLK, F_UNLCK, kSelfTestByte, 1);
        if (!same_file) return {};
    }
    std::lock_guard lock(mutex);
    known.emplace(st.st_dev, why);
    return why;
}

}  // namespace blobfetch::lockfile
#endif  // !_WIN32
