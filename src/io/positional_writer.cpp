// POSIX positional writer (pwrite/pread/fdatasync/fallocate) and the
// in-memory test double. The Windows writer is positional_writer_win32.cpp.
#include "io/positional_writer.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#ifndef _WIN32
#include <cerrno>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/log.h"
#include "io/dir_handle.h"
#include "io/file.h"
#endif

namespace blobfetch {

#ifndef _WIN32
namespace {

int system_allocate(int fd, std::int64_t offset, std::int64_t len) {
#if defined(__linux__)
    return ::fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(len));
#else
    // posix_fallocate returns the error instead of setting errno; some libcs
    // emulate it by writing zeros, which is still correct, only slower.
    int e = ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(len));
    if (e == 0) return 0;
    errno = e;
    return -1;
#endif
}

class PosixWriter final : public IPositionalWriter {
public:
    // `known_size`: the file's size when the caller knows it (0 for a file
    // it just created), else -1 (asked with fstat when needed).
    PosixWriter(UniqueFd fd, std::string name, AllocateFn allocate, std::int64_t known_size = -1)
        : m_fd(std::move(fd)), m_name(std::move(name)), m_allocate(allocate), m_size(known_size) {}

    Status write_at(const void *data, std::size_t len, std::int64_t offset) override {
        Status s = write_all_at(m_fd.get(), data, len, offset, m_name);
        // The size follows the writes (only this object writes the file).
        const std::int64_t end = offset + static_cast<std::int64_t>(len);
        std::int64_t known = m_size.load(std::memory_order_relaxed);
        while (known >= 0 && known < end && !m_size.compare_exchange_weak(known, end, std::memory_order_relaxed)) {
        }
        if (!s.ok()) m_size.store(-1);  // a short write: ask the file
        return s;
    }

    Expected<std::size_t> read_at(void *data, std::size_t len, std::int64_t offset) override {
        std::size_t got = 0;
        char *p = static_cast<char *>(data);
        while (got < len) {
            ssize_t n = ::pread(m_fd.get(), p + got, len - got, static_cast<off_t>(offset) + static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Status(Errc::io, "cannot read '" + m_name + "' at offset " + std::to_string(offset) +
                                                   ": " + std::strerror(errno));
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        return got;
    }

    Status sync() override {
        std::lock_guard lock(m_sync_mutex);
        if (!m_sync_error.ok()) return m_sync_error;  // once lost, lost for good
        Status s = sync_data(m_fd.get(), m_name);
        if (!s.ok())
            m_sync_error = Status(Errc::io, s.message() + "; the disk may have dropped what was written to it, so "
                                                           "nothing of it is trusted");
        return m_sync_error.ok() ? Status::success() : m_sync_error;
    }

    bool durability_lost() const override {
        std::lock_guard lock(m_sync_mutex);
        return !m_sync_error.ok();
    }

    Status hold_lock() override {
        int r;
        do {
            r = ::flock(m_fd.get(), LOCK_EX | LOCK_NB);
        } while (r != 0 && errno == EINTR);
        if (r != 0 && errno != ENOLCK && errno != EOPNOTSUPP && errno != ENOSYS)
            return Status(Errc::io, "cannot lock '" + m_name + "': " + std::strerror(errno));
        return Status::success();
    }

    Expected<std::int64_t> size() override {
        if (const std::int64_t known = m_size.load(); known >= 0) return known;
        struct stat st {};
        if (::fstat(m_fd.get(), &st) != 0)
            return Status(Errc::io, "cannot stat '" + m_name + "': " + std::strerror(errno));
        m_size.store(static_cast<std::int64_t>(st.st_size));
        return static_cast<std::int64_t>(st.st_size);
    }

    Status preallocate(std::int64_t size) override {
        Status s = preallocate_to(size);
        m_size.store(s.ok() ? size : -1);
        return s;
    }

    Status preallocate_to(std::int64_t size) {
        struct stat st {};
        bool stated = false;
        auto stat_now = [&]() -> Status {
            if (!stated && ::fstat(m_fd.get(), &st) != 0)
                return Status(Errc::io, "cannot stat '" + m_name + "': " + std::strerror(errno));
            stated = true;
            return Status::success();
        };
        std::int64_t current = m_size.load();
        if (current < 0) {
            if (Status s = stat_now(); !s.ok()) return s;
            current = static_cast<std::int64_t>(st.st_size);
        }
        if (size > 0) {
            if (m_allocate(m_fd.get(), 0, size) == 0) {
                if (current <= size) return Status::success();  // fallocate extended the file to `size`
            } else {
                const int e = errno;
                if (e == ENOSPC || e == EDQUOT || e == EFBIG) return no_space(size, e);
                if (e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
                    return Status(Errc::io, "cannot preallocate " + byte_size_text(size) + " for '" + m_name +
                                                "': " + std::strerror(e));
                // The file system cannot reserve blocks: check the space
                // ourselves, then only set the size (a sparse file).
                if (Status s = stat_now(); !s.ok()) return s;
                struct statvfs vfs {};
                if (::fstatvfs(m_fd.get(), &vfs) == 0) {
                    const std::int64_t have = static_cast<std::int64_t>(st.st_blocks) * 512;
                    const std::int64_t need = size - std::min(size, have);
                    const auto avail =
                        static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize);
                    if (need > avail) return no_space(size, ENOSPC, avail);
                }
            }
        }
        if (current != size && ::ftruncate(m_fd.get(), static_cast<off_t>(size)) != 0) {
            const int e = errno;
            if (e == ENOSPC || e == EDQUOT || e == EFBIG) return no_space(size, e);
            return Status(Errc::io, "cannot set the size of '" + m_name + "' to " + std::to_string(size) + ": " +
                                        std::strerror(e));
        }
        return Status::success();
    }

    const std::string &name() const override { return m_name; }

    bool named(int dir_fd, const std::string &name) const override {
        struct stat mine {}, there {};
        if (::fstat(m_fd.get(), &mine) != 0) return true;  // (cannot tell)
        return ::fstatat(dir_fd, name.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 && there.st_dev == mine.st_dev &&
               there.st_ino == mine.st_ino;
    }

    std::int64_t free_space() const override {
        struct statvfs vfs {};
        if (::fstatvfs(m_fd.get(), &vfs) != 0) return -1;
        return static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize);
    }

    Status make_public() override {
        if (::fchmod(m_fd.get(), 0666 & ~process_umask()) != 0)
            return Status(Errc::io, "cannot set the permissions of '" + m_name + "': " + std::strerror(errno));
        return Status::success();
    }

private:
    // The umask, read once per process without changing it (umask(2)
    // would, process-wide, racing other threads).
    static mode_t process_umask() {
        static const mode_t mask = [] {
            mode_t m = 022;
            FILE *f = std::fopen("/proc/self/status", "re");
            if (!f) return m;
            char line[256];
            while (std::fgets(line, sizeof line, f)) {
                unsigned value = 0;
                if (std::sscanf(line, "Umask: %o", &value) == 1) {
                    m = static_cast<mode_t>(value);
                    break;
                }
            }
            std::fclose(f);
            return m;
        }();
        return mask;
    }

    Status no_space(std::int64_t size, int e, std::int64_t avail = -1) const {
        std::string free_text;
        if (avail < 0) {
            struct statvfs vfs {};
            if (::fstatvfs(m_fd.get(), &vfs) == 0)
                avail = static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize);
        }
        if (avail >= 0) free_text = ", " + byte_size_text(avail) + " free";
        return Status(Errc::io, "not enough disk space for '" + m_name + "': it needs " + byte_size_text(size) +
                                    free_text + " (" + std::strerror(e) +
                                    "); free some space or point the cache at a larger disk, then run again");
    }

    UniqueFd m_fd;
    std::string m_name;
    AllocateFn m_allocate;
    std::atomic<std::int64_t> m_size;  // the file's size when known, else -1
    mutable std::mutex m_sync_mutex;
    Status m_sync_error;  // the first failed sync; then every sync fails
};

}  // namespace

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const DirHandle &dir, std::string_view name,
                                                                    const OpenOptions &options) {
    const std::string shown = dir.show(name).string();
    const AllocateFn allocate = options.allocate ? options.allocate : system_allocate;
    auto refused = [&](int e) -> Status {
        if ((e == EACCES || e == EPERM) && options.not_ours) *options.not_ours = true;
        std::string hint = e == ELOOP ? "; it is a symbolic link, which blobfetch never follows in the cache"
                           : e == EACCES || e == EPERM
                               ? "; it belongs to another user (a leftover in a shared cache?): ask them to run "
                                 "'blobfetch gc', or remove it"
                               : "; check that the cache directory exists and is writable";
        return Status(Errc::io, "cannot open '" + shown + "': " + std::strerror(e) + hint);
    };
    if (options.mode == OpenMode::fresh && options.locked) {
        if (UniqueFd fd = dir.open(".", O_RDWR | O_TMPFILE, 0600); fd) {
            int r;
            do {
                r = ::flock(fd.get(), LOCK_EX | LOCK_NB);
            } while (r != 0 && errno == EINTR);
            const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
            const std::string n(name);
            if (::linkat(AT_FDCWD, proc.c_str(), dir.fd(), n.c_str(), AT_SYMLINK_FOLLOW) == 0)
                return std::unique_ptr<IPositionalWriter>(new PosixWriter(std::move(fd), shown, allocate, 0));
            if (errno == EEXIST)
                return Status(Errc::io, "'" + shown + "' exists already: that private name is another process's");
            // No /proc, or no linking here: the plain way below.
        }
        UniqueFd fd = dir.open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (!fd && errno == EEXIST)
            return Status(Errc::io, "'" + shown + "' exists already: that private name is another process's");
        if (!fd) return refused(errno);
        auto plain = std::unique_ptr<IPositionalWriter>(new PosixWriter(std::move(fd), shown, allocate, 0));
        if (Status s = plain->hold_lock(); !s.ok()) return s;
        return plain;
    }
    if (options.mode == OpenMode::fresh) {
        // A new file: one call when nothing is there (the usual case).
        UniqueFd fd = dir.open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (!fd && errno == EEXIST) {
            if (const int e = dir.unlink(name); e != 0) {
                if (e == EISDIR || e == EPERM) {
                    struct stat st {};
                    if (dir.stat(name, st) == 0 && S_ISDIR(st.st_mode))
                        return Status(Errc::io, "'" + shown + "' is not a regular file; remove it and run again");
                }
                return refused(e);
            }
            fd = dir.open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        }
        if (!fd) return refused(errno);
        return std::unique_ptr<IPositionalWriter>(new PosixWriter(std::move(fd), shown, allocate, 0));
    }
    UniqueFd fd = dir.open(name, O_RDWR | O_NONBLOCK);
    if (!fd) {
        const int e = errno;
        if (e == ENOENT) return Status(Errc::not_found, "'" + shown + "' does not exist");
        return refused(e);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(Errc::io, "'" + shown + "' is not a regular file; remove it and run again");
    return std::unique_ptr<IPositionalWriter>(
        new PosixWriter(std::move(fd), shown, allocate, static_cast<std::int64_t>(st.st_size)));
}

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path,
                                                                    AllocateFn allocate) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        const int e = errno;
        std::string hint = e == ELOOP ? "; it is a symbolic link, which blobfetch never follows in the cache"
                                      : "; check that the cache directory exists and is writable";
        return Status(Errc::io, "cannot open '" + path.string() + "': " + std::strerror(e) + hint);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(Errc::io, "'" + path.string() + "' is not a regular file; remove it and run again");
    return std::unique_ptr<IPositionalWriter>(new PosixWriter(std::move(fd), path.string(), allocate));
}

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path) {
    return open_positional_writer(path, system_allocate);
}
#endif  // !_WIN32

Status MemoryWriter::write_at(const void *data, std::size_t len, std::int64_t offset) {
    if (offset < 0) return Status(Errc::invalid_argument, "negative offset writing '" + m_name + "'");
    std::lock_guard lock(m_mutex);
    const auto end = static_cast<std::size_t>(offset) + len;
    if (m_bytes.size() < end) m_bytes.resize(end, 0);
    if (len) std::memcpy(m_bytes.data() + offset, data, len);
    return Status::success();
}

Expected<std::size_t> MemoryWriter::read_at(void *data, std::size_t len, std::int64_t offset) {
    std::lock_guard lock(m_mutex);
    if (offset < 0 || static_cast<std::size_t>(offset) >= m_bytes.size()) return std::size_t{0};
    std::size_t n = std::min(len, m_bytes.size() - static_cast<std::size_t>(offset));
    std::memcpy(data, m_bytes.data() + offset, n);
    return n;
}

Status MemoryWriter::sync() {
    std::lock_guard lock(m_mutex);
    ++m_syncs;
    return Status::success();
}

Expected<std::int64_t> MemoryWriter::size() {
    std::lock_guard lock(m_mutex);
    return static_cast<std::int64_t>(m_bytes.size());
}

Status MemoryWriter::preallocate(std::int64_t size) {
    std::lock_guard lock(m_mutex);
    m_bytes.resize(static_cast<std::size_t>(size), 0);
    return Status::success();
}

std::string MemoryWriter::contents() const {
    std::lock_guard lock(m_mutex);
    return std::string(m_bytes.begin(), m_bytes.end());
}

int MemoryWriter::syncs() const {
    std::lock_guard lock(m_mutex);
    return m_syncs;
}

}  // namespace blobfetch
