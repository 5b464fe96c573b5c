// POSIX whole-directory lock: open(O_CREAT|O_RDWR|O_CLOEXEC|O_NOFOLLOW) +
// an open file description write lock on every byte (F_OFD_SETLK), which
// excludes every blob lock (blob_lock.h), then a check that the locked inode
// is still the file at the path (someone may have removed or replaced it
// between the open and the lock), then the self-test of lock_posix.h.
#ifndef _WIN32
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dir_handle.h"
#include "io/file.h"
#include "lock/dir_lock.h"
#include "lock/lock_posix.h"

namespace blobfetch {

struct DirLock::Impl {
    UniqueFd fd;
};

DirLock::DirLock(std::unique_ptr<Impl> impl, std::filesystem::path path, bool enforced, std::string why)
    : m_impl(std::move(impl)), m_path(std::move(path)), m_enforced(enforced), m_why(std::move(why)) {
    if (!m_enforced && m_why.empty())
        m_why = "file locks are not enforced there (a network file system?)";
}

DirLock::~DirLock() = default;  // closing the descriptor releases the lock

using namespace lockfile;

Expected<TryLock> try_lock_directory(const DirHandle &dir) {
    const std::filesystem::path path = dir.show(kLockFileName);
    for (int attempt = 0; attempt < 8; ++attempt) {
        auto opened = open_lock_file(dir);
        if (!opened) return opened.status();
        if (!opened->fd) {
            // Unreadable: no lock can be shared through it, so the caller
            // works as where locks do nothing, in private files, and says so.
            auto impl = std::make_unique<DirLock::Impl>();
            return TryLock{std::make_unique<DirLock>(std::move(impl), path, /*enforced=*/false, opened->why_not), {}};
        }
        UniqueFd fd = std::move(opened->fd);
        const bool writable = opened->writable;
        bool enforced = writable;
        std::string why = opened->why_not;
        if (writable && ofd(fd.get(), F_OFD_SETLK, F_WRLCK, 0, 0) != 0) {
            const int e = errno;
            if (e == EAGAIN || e == EACCES) {
                // Busy: a blob lock or another whole-directory lock. Say whose.
                struct flock seen {};
                std::string holder;
                if (ofd(fd.get(), F_OFD_GETLK, F_WRLCK, 0, 0, &seen) == 0 && seen.l_type != F_UNLCK)
                    holder = holder_at(fd.get(), seen.l_start);
                return TryLock{nullptr, holder};
            }
            if (!no_locks_here(e)) return Status(Errc::io, "cannot lock '" + path.string() + "': " + std::strerror(e));
            enforced = false;  // the file system has no locks at all
            why = "file locks are not supported there (a network file system?)";
        }
        // The name must still be the inode we locked: a lock on a file that
        // was removed (or replaced) in between protects nothing.
        struct stat locked {}, current {};
        if (::fstat(fd.get(), &locked) != 0)
            return Status(Errc::io, "cannot inspect the lock file '" + path.string() + "': " + std::strerror(errno));
        if (dir.stat(kLockFileName, current) != 0 || current.st_dev != locked.st_dev ||
            current.st_ino != locked.st_ino)
            continue;  // try again with the file that is there now
        if (enforced) {
            // (While every byte is held, the self-test byte is ours; the
            // second description must see it taken.)
            why = self_test(dir, fd.get(), /*holds_all=*/true);
            enforced = why.empty();
        }
        if (writable) {
            // Best effort: the line is for diagnosis, the lock is the lock.
            const std::string line = holder_text("", kLineSize);
            (void)write_all_at(fd.get(), line.data(), line.size(), 0, path.string());
        }
        auto impl = std::make_unique<DirLock::Impl>();
        impl->fd = std::move(fd);
        return TryLock{std::make_unique<DirLock>(std::move(impl), path, enforced, why), {}};
    }
    return Status(Errc::io, "the lock file '" + path.string() + "' keeps being replaced; is another tool removing it?");
}

Expected<TryLock> try_lock_directory(const std::filesystem::path &dir) {
    auto handle = DirHandle::open_root(dir, /*create=*/true);
    if (!handle) return handle.status();
    return try_lock_directory(**handle);
}

Expected<LockProbe> probe_directory_lock(const std::filesystem::path &dir) {
    const std::filesystem::path path = dir / kLockFileName;
    auto opened = open_lock_file_to_probe(path);
    if (!opened) return opened.status();
    if (!*opened) return LockProbe{};
    const UniqueFd fd = std::move(*opened);  // (a regular file)
    // Any lock anyone holds there: the whole directory or one of its blobs.
    struct flock seen {};
    if (ofd(fd.get(), F_OFD_GETLK, F_WRLCK, 0, 0, &seen) != 0 || seen.l_type == F_UNLCK)
        return LockProbe{};  // (no locks on this file system: nobody can be seen holding it)
    return LockProbe{true, holder_at(fd.get(), seen.l_start)};
}

}  // namespace blobfetch
#endif  // !_WIN32
