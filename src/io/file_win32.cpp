// Windows file primitives (file.h): C runtime descriptors over HANDLEs,
// WriteFile/ReadFile at an OVERLAPPED offset (synchronous handles, so each
// call is positional and threads never share a file pointer),
// FlushFileBuffers, MoveFileExW for publishing.
#ifdef _WIN32
#include "io/file.h"

#include <io.h>

#include <cerrno>

#include "io/win32.h"

namespace blobfetch {
namespace {

constexpr std::size_t kMaxPiece = std::size_t{1} << 30;  // one WriteFile/ReadFile call at most

}  // namespace

void UniqueFd::reset(int fd) {
    if (m_fd >= 0) ::_close(m_fd);
    m_fd = fd;
}

Status write_all_at(int fd, const void *data, std::size_t len, std::int64_t offset, const std::string &what) {
    const HANDLE h = win32::handle_of(fd);
    const char *p = static_cast<const char *>(data);
    while (len > 0) {
        const DWORD piece = static_cast<DWORD>(len > kMaxPiece ? kMaxPiece : len);
        DWORD done = 0;
        OVERLAPPED ov = win32::overlapped_at(offset);
        if (!WriteFile(h, p, piece, &done, &ov)) {
            const DWORD e = GetLastError();
            const std::string hint = e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL
                                         ? ": free some disk space and run again"
                                         : "";
            return Status(Errc::io, "cannot write to '" + what + "' at offset " + std::to_string(offset) + ": " +
                                        win32::error_text(e) + hint);
        }
        if (done == 0) return Status(Errc::io, "cannot write to '" + what + "': the write made no progress");
        p += done;
        len -= done;
        offset += done;
    }
    return Status::success();
}

Expected<std::size_t> read_at_most(int fd, void *data, std::size_t len, std::int64_t offset, const std::string &what) {
    const HANDLE h = win32::handle_of(fd);
    std::size_t got = 0;
    char *p = static_cast<char *>(data);
    while (got < len) {
        const DWORD piece = static_cast<DWORD>(len - got > kMaxPiece ? kMaxPiece : len - got);
        DWORD done = 0;
        OVERLAPPED ov = win32::overlapped_at(offset + static_cast<std::int64_t>(got));
        if (!ReadFile(h, p + got, piece, &done, &ov)) {
            const DWORD e = GetLastError();
            if (e == ERROR_HANDLE_EOF) break;
            return Status(Errc::io, "cannot read '" + what + "' at offset " + std::to_string(offset) + ": " +
                                        win32::error_text(e));
        }
        if (done == 0) break;
        got += done;
    }
    return got;
}

Status sync_data(int fd, const std::string &what) { return sync_file(fd, what); }

Status sync_file(int fd, const std::string &what) {
    if (!FlushFileBuffers(win32::handle_of(fd)))
        return Status(Errc::io, "cannot flush '" + what + "' to disk: " + win32::error_text(GetLastError()));
    return Status::success();
}

UniqueFd open_for_reading(const std::filesystem::path &path) {
    const HANDLE h = CreateFileW(win32::long_path(path).c_str(), GENERIC_READ,
                                 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                 FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        errno = win32::errno_of(GetLastError());
        return UniqueFd();
    }
    return UniqueFd(win32::descriptor_of(h, _O_RDONLY));
}

// NTFS journals its metadata, and the renames that publish are made with
// MOVEFILE_WRITE_THROUGH (they return once on disk): a directory has
// nothing to flush. (FlushFileBuffers on a directory needs write access to it
// and is refused on many file systems.)
Status sync_directory(const std::filesystem::path &) { return Status::success(); }

Status publish_file(const std::filesystem::path &from, const std::filesystem::path &to) {
    if (const DWORD e = win32::rename_replacing(win32::long_path(from), win32::long_path(to)); e != 0)
        return Status(Errc::io, "cannot rename '" + path_to_utf8(from) + "' to '" + path_to_utf8(to) + "': " +
                                    win32::error_text(e) +
                                    (e == ERROR_ACCESS_DENIED || e == ERROR_SHARING_VIOLATION
                                         ? "; another program keeps the file open: close it and run again"
                                         : ""));
    return Status::success();
}

Status ensure_directory(const std::filesystem::path &dir) {
    if (const DWORD e = win32::create_directories(win32::long_path(dir)); e != 0)
        return Status(Errc::io, "cannot create directory '" + path_to_utf8(dir) + "': " + win32::error_text(e));
    return Status::success();
}

}  // namespace blobfetch
#endif  // _WIN32
