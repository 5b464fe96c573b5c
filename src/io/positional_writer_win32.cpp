// Windows positional writer (positional_writer.h): the descriptor helpers of
// file.h (WriteFile/ReadFile at an OVERLAPPED offset on a synchronous
// handle, FlushFileBuffers), SetFileInformationByHandle for the allocation
// and the size. Files are opened through DirHandle (never through a final
// link). What differs from POSIX: permissions come from the directory's ACL
// (make_public has nothing to do), and hold_lock() is a LockFileEx range far
// past any data (Windows locks are mandatory for the bytes they cover).
#ifdef _WIN32
#include "io/positional_writer.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "io/dir_handle.h"
#include "io/file.h"
#include "io/win32.h"

namespace blobfetch {
namespace {

// The AllocateFn of Windows: reserves [0, offset + len) for the file
// (FileAllocationInfo; NTFS reserves the clusters without writing them).
int system_allocate(int fd, std::int64_t offset, std::int64_t len) {
    FILE_ALLOCATION_INFO alloc{};
    alloc.AllocationSize.QuadPart = offset + len;
    if (SetFileInformationByHandle(win32::handle_of(fd), FileAllocationInfo, &alloc, sizeof alloc)) return 0;
    errno = win32::errno_of(GetLastError());
    return -1;
}

constexpr std::uint64_t kHoldByte = kPrivateHoldByte;  // (positional_writer.h)

class Win32Writer final : public IPositionalWriter {
public:
    Win32Writer(UniqueFd fd, std::string name, std::wstring os_path, AllocateFn allocate, std::int64_t known_size)
        : m_fd(std::move(fd)), m_name(std::move(name)), m_os_path(std::move(os_path)), m_allocate(allocate),
          m_size(known_size) {}

    Status write_at(const void *data, std::size_t len, std::int64_t offset) override {
        Status s = write_all_at(m_fd.get(), data, len, offset, m_name);
        const std::int64_t end = offset + static_cast<std::int64_t>(len);
        std::int64_t known = m_size.load(std::memory_order_relaxed);
        while (known >= 0 && known < end && !m_size.compare_exchange_weak(known, end, std::memory_order_relaxed)) {
        }
        if (!s.ok()) m_size.store(-1);
        return s;
    }

    Expected<std::size_t> read_at(void *data, std::size_t len, std::int64_t offset) override {
        return read_at_most(m_fd.get(), data, len, offset, m_name);
    }

    Status sync() override {
        std::lock_guard lock(m_sync_mutex);
        if (!m_sync_error.ok()) return m_sync_error;  // once lost, lost for good
        if (Status s = sync_data(m_fd.get(), m_name); !s.ok())
            m_sync_error = Status(Errc::io, s.message() + "; the disk may have dropped what was written to it, so "
                                                           "nothing of it is trusted");
        return m_sync_error.ok() ? Status::success() : m_sync_error;
    }

    bool durability_lost() const override {
        std::lock_guard lock(m_sync_mutex);
        return !m_sync_error.ok();
    }

    Status hold_lock() override {
        OVERLAPPED ov{};
        ov.Offset = static_cast<DWORD>(kHoldByte & 0xFFFFFFFFu);
        ov.OffsetHigh = static_cast<DWORD>(kHoldByte >> 32);
        if (!LockFileEx(win32::handle_of(m_fd.get()), LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0,
                        &ov)) {
            const DWORD e = GetLastError();
            if (e != ERROR_NOT_SUPPORTED && e != ERROR_INVALID_FUNCTION)
                return Status(Errc::io, "cannot lock '" + m_name + "': " + win32::error_text(e));
        }
        return Status::success();
    }

    Expected<std::int64_t> size() override {
        if (const std::int64_t known = m_size.load(); known >= 0) return known;
        LARGE_INTEGER n{};
        if (!GetFileSizeEx(win32::handle_of(m_fd.get()), &n))
            return Status(Errc::io, "cannot get the size of '" + m_name + "': " + win32::error_text(GetLastError()));
        m_size.store(static_cast<std::int64_t>(n.QuadPart));
        return static_cast<std::int64_t>(n.QuadPart);
    }

    Status preallocate(std::int64_t size) override {
        Status s = preallocate_to(size);
        m_size.store(s.ok() ? size : -1);
        return s;
    }

    const std::string &name() const override { return m_name; }

    bool named(int dir_fd, const std::string &name) const override {
        // The directory's path from its handle (it is pinned while open).
        wchar_t buf[32768];
        const DWORD n = GetFinalPathNameByHandleW(win32::handle_of(dir_fd), buf, 32768, FILE_NAME_NORMALIZED);
        win32::FileId mine, there;
        if (n == 0 || n >= 32768 || !win32::file_id(win32::handle_of(m_fd.get()), mine)) return true;  // (cannot tell)
        HANDLE h = CreateFileW(win32::child_path(std::wstring(buf, n), name).c_str(), FILE_READ_ATTRIBUTES,
                               FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                               FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
        if (h == INVALID_HANDLE_VALUE) return false;
        const bool same = win32::file_id(h, there) && there == mine;
        CloseHandle(h);
        return same;
    }

    // Bytes free for this user on the file's volume, or -1.
    std::int64_t free_space() const override {
        std::wstring dir = m_os_path;
        if (const auto slash = dir.find_last_of(L'\\'); slash != std::wstring::npos) dir.resize(slash + 1);
        ULARGE_INTEGER avail{};
        if (!GetDiskFreeSpaceExW(dir.c_str(), &avail, nullptr, nullptr)) return -1;
        return static_cast<std::int64_t>(avail.QuadPart);
    }

private:
    Status preallocate_to(std::int64_t size) {
        auto current = this->size();
        if (!current) return current.status();
        if (size > 0) {
            if (m_allocate(m_fd.get(), 0, size) != 0) {
                const int e = errno;
                if (e == ENOSPC || e == EFBIG) return no_space(size, e);
                if (e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
                    return Status(Errc::io, "cannot preallocate " + byte_size_text(size) + " for '" + m_name +
                                                "': " + std::strerror(e));
                // The file system cannot reserve: check the space ourselves.
                const std::int64_t avail = free_space();
                if (avail >= 0 && size - *current > avail) return no_space(size, ENOSPC, avail);
            }
        }
        if (*current != size) {
            FILE_END_OF_FILE_INFO eof{};
            eof.EndOfFile.QuadPart = size;
            if (!SetFileInformationByHandle(win32::handle_of(m_fd.get()), FileEndOfFileInfo, &eof, sizeof eof)) {
                const DWORD e = GetLastError();
                if (e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL) return no_space(size, ENOSPC);
                return Status(Errc::io, "cannot set the size of '" + m_name + "' to " + std::to_string(size) + ": " +
                                            win32::error_text(e));
            }
        }
        return Status::success();
    }

    Status no_space(std::int64_t size, int e, std::int64_t avail = -1) const {
        if (avail < 0) avail = free_space();
        const std::string free_text = avail >= 0 ? ", " + byte_size_text(avail) + " free" : "";
        return Status(Errc::io, "not enough disk space for '" + m_name + "': it needs " + byte_size_text(size) +
                                    free_text + " (" + std::strerror(e) +
                                    "); free some space or point the cache at a larger disk, then run again");
    }

    UniqueFd m_fd;
    std::string m_name;
    std::wstring m_os_path;
    AllocateFn m_allocate;
    std::atomic<std::int64_t> m_size;  // the file's size when known, else -1
    mutable std::mutex m_sync_mutex;
    Status m_sync_error;
};

Status refused(const std::string &shown, int e, const OpenOptions &options) {
    if (e == EACCES && options.not_ours) *options.not_ours = true;
    const std::string hint = e == ELOOP    ? "; it is a symbolic link, which blobfetch never follows in the cache"
                             : e == EACCES ? "; another user's or program's file (a leftover in a shared cache?): "
                                             "ask them to run 'blobfetch gc', or remove it"
                                           : "; check that the cache directory exists and is writable";
    return Status(Errc::io, "cannot open '" + shown + "': " + std::strerror(e) + hint);
}

std::unique_ptr<IPositionalWriter> make_writer(const DirHandle &dir, std::string_view name, UniqueFd fd,
                                               AllocateFn allocate, std::int64_t known_size) {
    std::wstring os = win32::long_path(dir.path());
    os = win32::child_path(os, name);
    return std::unique_ptr<IPositionalWriter>(new Win32Writer(std::move(fd), path_to_utf8(dir.show(name)),
                                                              std::move(os), allocate, known_size));
}

}  // namespace

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const DirHandle &dir, std::string_view name,
                                                                    const OpenOptions &options) {
    const std::string shown = path_to_utf8(dir.show(name));
    const AllocateFn allocate = options.allocate ? options.allocate : system_allocate;
    if (options.mode == OpenMode::fresh) {
        UniqueFd fd = dir.open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (!fd && errno == EEXIST) {
            // A private name is someone else's; a plain one is replaced.
            if (options.locked)
                return Status(Errc::io, "'" + shown + "' exists already: that private name is another process's");
            if (const int e = dir.unlink(name); e != 0) {
                struct stat st {};
                if (dir.stat(name, st) == 0 && S_ISDIR(st.st_mode))
                    return Status(Errc::io, "'" + shown + "' is not a regular file; remove it and run again");
                return refused(shown, e, options);
            }
            fd = dir.open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        }
        if (!fd) return refused(shown, errno, options);
        auto writer = make_writer(dir, name, std::move(fd), allocate, 0);
        if (options.locked) {
            // (Created, then locked: unlike Linux's O_TMPFILE, there is a
            // moment in which it is visible unlocked.)
            if (Status s = writer->hold_lock(); !s.ok()) return s;
        }
        return writer;
    }
    UniqueFd fd = dir.open(name, O_RDWR);
    if (!fd) {
        const int e = errno;
        if (e == ENOENT) return Status(Errc::not_found, "'" + shown + "' does not exist");
        if (e == EISDIR) return Status(Errc::io, "'" + shown + "' is not a regular file; remove it and run again");
        return refused(shown, e, options);
    }
    return make_writer(dir, name, std::move(fd), allocate, -1);
}

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path,
                                                                    AllocateFn allocate) {
    const std::filesystem::path parent = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    auto dir = DirHandle::open_root(parent, /*create=*/false);
    if (!dir) return Status(Errc::io, "cannot open '" + path_to_utf8(path) + "': " + dir.message());
    const std::string name = path_to_utf8(path.filename());
    const std::string shown = path_to_utf8(path);
    UniqueFd fd = (*dir)->open(name, O_RDWR | O_CREAT, 0600);
    if (!fd) {
        const int e = errno;
        if (e == EISDIR) return Status(Errc::io, "'" + shown + "' is not a regular file; remove it and run again");
        return refused(shown, e, OpenOptions{});
    }
    return make_writer(**dir, name, std::move(fd), allocate ? allocate : system_allocate, -1);
}

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path) {
    return open_positional_writer(path, nullptr);
}

}  // namespace blobfetch
#endif  // _WIN32
