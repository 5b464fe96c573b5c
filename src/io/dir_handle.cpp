// POSIX directory handles (see dir_handle.h), and the directory cache of
// every platform. The Windows handles are dir_handle_win32.cpp.
#include "io/dir_handle.h"

#include "base/path_safety.h"

#ifndef _WIN32

#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif
#endif  // !_WIN32

namespace blobfetch {
#ifndef _WIN32
namespace {

namespace fs = std::filesystem;

// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): the directory in one call,
// or -1 with errno (ENOSYS/EPERM: the kernel or a sandbox lacks it).
int open_beneath_fast(int root, std::string_view relative) {
#if defined(__linux__) && defined(SYS_openat2)
    struct open_how how {};
    how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const std::string path(relative);
    int fd;
    do {
        fd = static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how));
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    return fd;
#else
    (void)root;
    (void)relative;
    errno = ENOSYS;
    return -1;
#endif
}

Status link_refused(const fs::path &where) {
    return Status(Errc::unsafe_path, "'" + where.string() +
                                         "' is a symbolic link inside the cache directory; blobfetch never follows "
                                         "links below the cache directory (they could lead anywhere): remove the "
                                         "link, or make the cache directory itself the link");
}

}  // namespace

DirHandle::DirHandle(UniqueFd fd, fs::path path) : m_fd(std::move(fd)), m_path(std::move(path)) {
    struct stat st {};
    if (::fstat(m_fd.get(), &st) == 0) {
        m_dev = st.st_dev;
        m_ino = st.st_ino;
    }
}

Expected<std::shared_ptr<DirHandle>> DirHandle::open_root(const fs::path &root, bool create) {
    if (create) {
        std::error_code ec;
        fs::create_directories(root, ec);
        if (ec) return Status(Errc::io, "cannot create directory '" + root.string() + "': " + ec.message());
    }
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        const int e = errno;
        if (e == ENOENT) return Status(Errc::not_found, "the cache directory '" + root.string() + "' does not exist");
        return Status(Errc::io, "cannot open the cache directory '" + root.string() + "': " + std::strerror(e) +
                                    (e == ENOTDIR ? "" : "; check its permissions"));
    }
    return std::shared_ptr<DirHandle>(new DirHandle(std::move(fd), root));
}

Expected<std::shared_ptr<DirHandle>> DirHandle::open_beneath(const std::shared_ptr<DirHandle> &root_handle,
                                                             std::string_view relative, bool create,
                                                             bool known_missing) {
    const DirHandle &root = *root_handle;
    const auto parts = path_components(relative);
    fs::path shown = root.path();
    for (auto p : parts) shown /= std::string(p);
    if (parts.empty()) {
        UniqueFd fd(::fcntl(root.fd(), F_DUPFD_CLOEXEC, 0));
        if (!fd) return Status(Errc::io, "cannot open '" + root.path().string() + "': " + std::strerror(errno));
        return std::shared_ptr<DirHandle>(new DirHandle(std::move(fd), root.path()));
    }
    int fast_error = ENOENT;
    if (!known_missing) {
        // The usual case, one system call: the directory exists and is plain.
        if (UniqueFd fd(open_beneath_fast(root.fd(), relative)); fd)
            return std::shared_ptr<DirHandle>(new DirHandle(std::move(fd), shown));
        // (With openat2, ENOENT means a component is missing: links and
        // escapes are ELOOP and EXDEV.)
        fast_error = errno;
        if (fast_error == ENOENT && !create) return Status(Errc::not_found, "'" + shown.string() + "' does not exist");
    }
    // Missing parts (created), links (named in the message), or no openat2:
    // one component at a time.
    UniqueFd owned;
    int current = root.fd();
    fs::path walked = root.path();
    std::vector<UniqueFd> created_in;  // parents below the root in which a component was made
    bool created_in_root = false;
    // The previous component is new, so this one cannot exist yet (also:
    // the only component was found missing).
    bool created = fast_error == ENOENT && parts.size() == 1;
    for (auto part : parts) {
        const std::string name(part);
        walked /= name;
        auto make = [&]() -> Status {
            if (::mkdirat(current, name.c_str(), 0777) == 0) {
                created = true;
                if (current == root.fd()) created_in_root = true;
                else created_in.emplace_back(::fcntl(current, F_DUPFD_CLOEXEC, 0));
            } else if (errno != EEXIST) {
                return Status(Errc::io, "cannot create directory '" + walked.string() + "': " + std::strerror(errno));
            } else {
                created = false;  // someone else made it meanwhile
            }
            return Status::success();
        };
        if (create && created) {
            if (Status s = make(); !s.ok()) return s;
        }
        UniqueFd next(::openat(current, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next && errno == ENOENT && create && !created) {
            if (Status s = make(); !s.ok()) return s;
            next.reset(::openat(current, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        }
        if (!next) {
            const int e = errno;
            struct stat st {};
            if (::fstatat(current, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISLNK(st.st_mode)) return link_refused(walked);
                if (!S_ISDIR(st.st_mode))
                    return Status(Errc::unsafe_path, "'" + walked.string() +
                                                         "' is in the way of a directory of the cache (it is no "
                                                         "directory): remove it and run again");
            }
            if (e == ENOENT) return Status(Errc::not_found, "'" + walked.string() + "' does not exist");
            return Status(Errc::io, "cannot open directory '" + walked.string() + "': " + std::strerror(e));
        }
        owned = std::move(next);
        current = owned.get();
    }
    auto handle = std::shared_ptr<DirHandle>(new DirHandle(std::move(owned), shown));
    if (created_in_root) handle->m_created_in_root = root_handle;
    handle->m_created_in = std::move(created_in);
    handle->m_created_synced = !created_in_root && handle->m_created_in.empty();
    return handle;
}

Status DirHandle::sync_created() const {
    std::lock_guard lock(m_created_mutex);
    if (m_created_synced) return Status::success();
    if (m_created_in_root) {
        if (Status s = m_created_in_root->sync(); !s.ok()) return s;
    }
    for (const UniqueFd &fd : m_created_in) {
        while (fd && ::fsync(fd.get()) != 0) {
            if (errno == EINTR) continue;
            if (errno == EINVAL || errno == ENOTSUP) break;
            return Status(Errc::io, "cannot sync a directory above '" + m_path.string() + "': " + std::strerror(errno));
        }
    }
    m_created_in.clear();
    m_created_synced = true;
    return Status::success();
}

UniqueFd DirHandle::open(std::string_view name, int flags, mode_t mode) const {
    const std::string n(name);
    int fd;
    do {
        fd = ::openat(m_fd.get(), n.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode);
    } while (fd < 0 && errno == EINTR);
    return UniqueFd(fd);
}

int DirHandle::stat(std::string_view name, struct stat &st) const {
    return ::fstatat(m_fd.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

int DirHandle::rename(std::string_view from, std::string_view to) const {
    return ::renameat(m_fd.get(), std::string(from).c_str(), m_fd.get(), std::string(to).c_str()) == 0 ? 0 : errno;
}

int DirHandle::unlink(std::string_view name) const {
    return ::unlinkat(m_fd.get(), std::string(name).c_str(), 0) == 0 ? 0 : errno;
}

Status DirHandle::remove(std::string_view name) const {
    const int e = unlink(name);
    if (e == 0 || e == ENOENT) return Status::success();
    return Status(Errc::io, "cannot remove '" + show(name).string() + "': " + std::strerror(e));
}

Status DirHandle::sync() const {
    std::unique_lock lock(m_sync_mutex);
    const std::uint64_t mine = ++m_requests;
    for (;;) {
        if (m_covered >= mine) return Status::success();
        if (!m_syncing) break;
        m_sync_done.wait(lock);  // a sync runs; it may have started before our changes
    }
    // Everything requested so far is covered by the fsync that starts now.
    const std::uint64_t covers = m_requests;
    m_syncing = true;
    lock.unlock();
    int e = 0;
    while (::fsync(m_fd.get()) != 0) {
        if (errno == EINTR) continue;
        if (errno != EINVAL && errno != ENOTSUP) e = errno;  // some file systems cannot sync directories
        break;
    }
    lock.lock();
    m_syncing = false;
    if (e == 0) m_covered = std::max(m_covered, covers);
    m_sync_done.notify_all();
    if (e != 0) return Status(Errc::io, "cannot sync directory '" + m_path.string() + "': " + std::strerror(e));
    return Status::success();
}

bool DirHandle::still_at(const DirHandle &root, std::string_view relative) const {
    struct stat st {};
    if (relative.find('/') == std::string_view::npos) {
        // One component (or the root itself): fstatat follows no link in it.
        const std::string rel = relative.empty() ? std::string(".") : std::string(relative);
        if (::fstatat(root.fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    } else {
        // Deeper: resolved again beneath the root without following any link
        // (fstatat would follow links in the components above the last).
        UniqueFd fd(open_beneath_fast(root.fd(), relative));
        if (!fd && (errno == ENOSYS || errno == EPERM)) {
            UniqueFd current;
            int at = root.fd();
            for (auto part : path_components(relative)) {
                current.reset(::openat(at, std::string(part).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!current) return false;
                at = current.get();
            }
            fd = std::move(current);
        }
        if (!fd || ::fstat(fd.get(), &st) != 0) return false;
    }
    return S_ISDIR(st.st_mode) && st.st_dev == m_dev && st.st_ino == m_ino;
}

#endif  // !_WIN32

Expected<std::shared_ptr<DirHandle>> DirCache::get(const std::string &relative_dir, bool create) {
    std::lock_guard lock(m_mutex);
    constexpr std::size_t kRecent = 64;
    auto keep = [&](const std::shared_ptr<DirHandle> &dir) {
        if (m_recent.size() < kRecent) {
            m_recent.push_back(dir);
        } else {
            m_recent[m_next_recent] = dir;
            m_next_recent = (m_next_recent + 1) % kRecent;
        }
    };
    if (auto it = m_dirs.find(relative_dir); it != m_dirs.end()) {
        if (auto dir = it->second.lock()) return dir;
        m_dirs.erase(it);
    }
    if (!m_root) {
        if (m_root_missing && !create)
            return Status(Errc::not_found, "the cache directory '" + m_root_path.string() + "' does not exist");
        auto root = DirHandle::open_root(m_root_path, create);
        if (!root) {
            if (root.status().code() == Errc::not_found) m_root_missing = true;
            return root.status();
        }
        m_root = std::move(*root);
    }
    const bool known_missing = m_missing.count(relative_dir) > 0 || m_root_missing;
    if (known_missing && !create) return Status(Errc::not_found, "'" + relative_dir + "' does not exist");
    auto dir = DirHandle::open_beneath(m_root, relative_dir, create, known_missing);
    if (!dir) {
        if (dir.status().code() == Errc::not_found && !create) m_missing.insert(relative_dir);
        return dir.status();
    }
    m_missing.erase(relative_dir);
    if (m_dirs.size() > 4 * kRecent) std::erase_if(m_dirs, [](const auto &e) { return e.second.expired(); });
    m_dirs[relative_dir] = *dir;
    keep(*dir);
    return *dir;
}

std::shared_ptr<DirHandle> DirCache::root() {
    std::lock_guard lock(m_mutex);
    return m_root;
}

std::string relative_dir_of(std::string_view relative_path) {
    const std::size_t slash = relative_path.rfind('/');
    return slash == std::string_view::npos ? std::string() : std::string(relative_path.substr(0, slash));
}

std::string file_name_of(std::string_view relative_path) {
    const std::size_t slash = relative_path.rfind('/');
    return std::string(slash == std::string_view::npos ? relative_path : relative_path.substr(slash + 1));
}

}  // namespace blobfetch
