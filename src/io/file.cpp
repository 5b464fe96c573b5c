// POSIX file primitives (file.h); the Windows ones are file_win32.cpp.
#include "io/file.h"

#ifndef _WIN32
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>
#endif

namespace blobfetch {

std::filesystem::path path_from_utf8(std::string_view utf8) {
    return std::filesystem::path(std::u8string(utf8.begin(), utf8.end()));
}

std::string path_to_utf8(const std::filesystem::path &path) {
    const std::u8string u8 = path.u8string();
    return std::string(u8.begin(), u8.end());
}

#ifndef _WIN32

void UniqueFd::reset(int fd) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = fd;
}

Status write_all_at(int fd, const void *data, std::size_t len, std::int64_t offset, const std::string &what) {
    const char *p = static_cast<const char *>(data);
    while (len > 0) {
        ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            std::string hint = (e == ENOSPC || e == EDQUOT) ? ": free some disk space and run again" : "";
            return Status(Errc::io, "cannot write to '" + what + "' at offset " + std::to_string(offset) + ": " +
                                        std::strerror(e) + hint);
        }
        if (n == 0) return Status(Errc::io, "cannot write to '" + what + "': the write made no progress");
        p += n;
        len -= static_cast<std::size_t>(n);
        offset += n;
    }
    return Status::success();
}

Expected<std::size_t> read_at_most(int fd, void *data, std::size_t len, std::int64_t offset, const std::string &what) {
    std::size_t got = 0;
    char *p = static_cast<char *>(data);
    while (got < len) {
        const ssize_t n = ::pread(fd, p + got, len - got, static_cast<off_t>(offset) + static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return Status(Errc::io, "cannot read '" + what + "' at offset " + std::to_string(offset) + ": " +
                                        std::strerror(errno));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return got;
}

Status sync_file(int fd, const std::string &what) {
    while (::fsync(fd) != 0) {
        if (errno == EINTR) continue;
        return Status(Errc::io, "cannot flush '" + what + "' to disk: " + std::strerror(errno));
    }
    return Status::success();
}

UniqueFd open_for_reading(const std::filesystem::path &path) {
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
}

Status sync_data(int fd, const std::string &what) {
    while (::fdatasync(fd) != 0) {
        if (errno == EINTR) continue;
        return Status(Errc::io, "cannot flush '" + what + "' to disk: " + std::strerror(errno));
    }
    return Status::success();
}

Status sync_directory(const std::filesystem::path &dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return Status(Errc::io, "cannot open directory '" + dir.string() + "' to sync it: " + std::strerror(errno));
    while (::fsync(fd.get()) != 0) {
        if (errno == EINTR) continue;
        // Some file systems do not support fsync on directories.
        if (errno == EINVAL || errno == ENOTSUP) break;
        return Status(Errc::io, "cannot sync directory '" + dir.string() + "': " + std::strerror(errno));
    }
    return Status::success();
}

Status publish_file(const std::filesystem::path &from, const std::filesystem::path &to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
        return Status(Errc::io, "cannot rename '" + from.string() + "' to '" + to.string() + "': " +
                                    std::strerror(errno));
    return sync_directory(to.parent_path());
}

Status ensure_directory(const std::filesystem::path &dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status(Errc::io, "cannot create directory '" + dir.string() + "': " + ec.message());
    return Status::success();
}

#endif  // !_WIN32

}  // namespace blobfetch
