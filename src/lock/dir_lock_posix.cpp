// POSIX directory lock: open(O_CREAT|O_RDWR|O_CLOEXEC|O_NOFOLLOW) +
// flock(LOCK_EX|LOCK_NB), then a check that the locked inode is still the
// file at the path (someone may have removed or replaced it between the open
// and the flock), then a self-test with a second descriptor.
#ifndef _WIN32
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dir_handle.h"
#include "io/file.h"
#include "lock/dir_lock.h"

namespace blobfetch {

struct DirLock::Impl {
    UniqueFd fd;
};

DirLock::DirLock(std::unique_ptr<Impl> impl, std::filesystem::path path, bool enforced, std::string why)
    : m_impl(std::move(impl)), m_path(std::move(path)), m_enforced(enforced), m_why(std::move(why)) {
    if (!m_enforced && m_why.empty())
        m_why = "file locks are not enforced there (a network file system?)";
}

DirLock::~DirLock() = default;  // closing the descriptor releases the flock

namespace {

std::string holder_line(int fd) {
    char buf[128];
    ssize_t n;
    do {
        n = ::pread(fd, buf, sizeof buf - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return {};
    std::string s(buf, static_cast<std::size_t>(n));
    const auto nl = s.find('\n');
    if (nl != std::string::npos) s.resize(nl);
    while (!s.empty() && s.back() == ' ') s.pop_back();  // the line is padded to a fixed width
    return s;
}

// Whether the file system of `st_dev` enforces flock between two open file
// descriptions: tested once per device and process (a property of the
// mount), by `probe`, which is asked only the first time.
template <class Probe>
bool locks_enforced_on(dev_t dev, Probe probe) {
    static std::mutex mutex;
    static std::map<dev_t, bool> known;
    {
        std::lock_guard lock(mutex);
        if (auto it = known.find(dev); it != known.end()) return it->second;
    }
    const bool enforced = probe();
    std::lock_guard lock(mutex);
    known.emplace(dev, enforced);
    return enforced;
}

std::string now_iso8601() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The holder line, `PID:<pid>,Time:<ISO-8601>` padded with spaces to one
// fixed width, so that writing it over an older one needs no truncation.
std::string holder_text() {
    static const long pid = static_cast<long>(::getpid());  // (a fork gets no lock of ours)
    std::string line = "PID:" + std::to_string(pid) + ",Time:" + now_iso8601();
    line.resize(63, ' ');
    line += '\n';
    return line;
}

int flock_retrying(int fd, int op) {
    int r;
    do {
        r = ::flock(fd, op);
    } while (r != 0 && errno == EINTR);
    return r;
}

}  // namespace

Expected<TryLock> try_lock_directory(const DirHandle &dir) {
    const std::filesystem::path path = dir.show(kLockFileName);
    for (int attempt = 0; attempt < 8; ++attempt) {
        bool writable = true;
        UniqueFd fd = dir.open(kLockFileName, O_CREAT | O_RDWR | O_NONBLOCK, 0644);
        if (!fd && errno == EACCES) {
            // Another user's lock file in a shared cache: flock works on a
            // read-only descriptor too; only the diagnosis line is not ours.
            fd = dir.open(kLockFileName, O_RDONLY | O_NONBLOCK);
            writable = false;
        }
        if (!fd && errno == EACCES) {
            // Another user's lock file that this user may not even read (made
            // under a strict umask by an older blobfetch): no lock can be
            // shared through it, so the caller works as where locks do
            // nothing, in private files, and says so.
            auto impl = std::make_unique<DirLock::Impl>();
            return TryLock{std::make_unique<DirLock>(std::move(impl), path, /*enforced=*/false,
                                                     "its lock file '" + path.string() +
                                                         "' belongs to another user who made it unreadable "
                                                         "(chmod 644 it to share the lock)"),
                           {}};
        }
        if (!fd) {
            const int e = errno;
            std::string hint = e == ELOOP ? "; it is a symbolic link, which blobfetch never follows; remove it"
                                          : "; check the permissions of the cache directory";
            return Status(Errc::io, "cannot open the lock file '" + path.string() + "': " + std::strerror(e) + hint);
        }
        bool enforced = true;
        if (flock_retrying(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            if (e == EWOULDBLOCK) return TryLock{nullptr, holder_line(fd.get())};
            if (e != ENOLCK && e != EOPNOTSUPP && e != ENOSYS)
                return Status(Errc::io, "cannot lock '" + path.string() + "': " + std::strerror(e));
            enforced = false;  // the file system has no locks at all
        }
        // The name must still be the inode we locked: a lock on a file that
        // was removed (or replaced) in between protects nothing.
        struct stat locked {}, current {};
        if (::fstat(fd.get(), &locked) != 0)
            return Status(Errc::io, "cannot inspect the lock file '" + path.string() + "': " + std::strerror(errno));
        if (!S_ISREG(locked.st_mode))
            return Status(Errc::io, "the lock file '" + path.string() + "' is not a regular file; remove it");
        // Readable by every user of a shared cache, whatever the umask of
        // whoever made it (best effort: only its owner may change it).
        if (writable && (locked.st_mode & 0777) != 0644 && locked.st_uid == ::geteuid()) (void)::fchmod(fd.get(), 0644);
        if (dir.stat(kLockFileName, current) != 0 || current.st_dev != locked.st_dev ||
            current.st_ino != locked.st_ino)
            continue;  // try again with the file that is there now
        if (enforced) {
            // Self-test: a second open file description must not get the lock.
            enforced = locks_enforced_on(locked.st_dev, [&] {
                UniqueFd probe = dir.open(kLockFileName, O_RDONLY | O_NONBLOCK);
                return !(probe && flock_retrying(probe.get(), LOCK_EX | LOCK_NB) == 0);
            });
        }
        if (writable) {
            // Best effort: the line is for diagnosis, the flock is the lock.
            const std::string line = holder_text();
            (void)write_all_at(fd.get(), line.data(), line.size(), 0, path.string());
        }
        auto impl = std::make_unique<DirLock::Impl>();
        impl->fd = std::move(fd);
        return TryLock{std::make_unique<DirLock>(std::move(impl), path, enforced), {}};
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
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR) return LockProbe{};
        return Status(Errc::io, "cannot open the lock file '" + path.string() + "': " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(Errc::io, "the lock file '" + path.string() + "' is not a regular file");
    if (flock_retrying(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) return LockProbe{true, holder_line(fd.get())};
        return LockProbe{};  // no locks on this file system: nobody can be seen holding it
    }
    return LockProbe{};  // taken for an instant; closing the descriptor lets it go
}

}  // namespace blobfetch
#endif  // !_WIN32
