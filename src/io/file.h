#pragma once
// File-system primitives: an owned descriptor, EINTR/short-write-safe
// positional writes, durability (fsync of files and directories) and atomic
// publication by rename.
//
// The vocabulary is POSIX's (int descriptors, O_* flags, errno) on every
// platform. On Windows (file_win32.cpp) a descriptor is a C runtime one
// wrapping a HANDLE (_get_osfhandle gives it back), every path reaches the
// OS as UTF-16 with the `\\?\` prefix, and the flags Windows has no use for
// are defined here as 0 (see win32_flags.h).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

#ifdef _WIN32
#include "io/win32_flags.h"
#endif

namespace blobfetch {

// Owns a POSIX file descriptor. Move-only.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : m_fd(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd &&o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    UniqueFd &operator=(UniqueFd &&o) noexcept {
        if (this != &o) {
            reset();
            m_fd = std::exchange(o.m_fd, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;

    int get() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }
    void reset(int fd = -1);
    int release() { return std::exchange(m_fd, -1); }

private:
    int m_fd = -1;
};

// Writes all `len` bytes at `offset`, retrying on EINTR and short writes.
// Thread-safe for disjoint ranges of the same descriptor. `what` names the
// file in error messages.
Status write_all_at(int fd, const void *data, std::size_t len, std::int64_t offset, const std::string &what);

// Reads up to `len` bytes at `offset` (fewer only at the end of the file),
// retrying interrupted reads. Errors name `what`.
Expected<std::size_t> read_at_most(int fd, void *data, std::size_t len, std::int64_t offset, const std::string &what);

// fdatasync (data, and the size) of an open file (Windows: FlushFileBuffers).
Status sync_data(int fd, const std::string &what);
// fsync (data and metadata) of an open file (Windows: FlushFileBuffers).
Status sync_file(int fd, const std::string &what);

// Opens `path` for reading, following links (the user's own paths), never
// blocking on a FIFO: a descriptor, or an invalid one with errno set.
UniqueFd open_for_reading(const std::filesystem::path &path);

// fsync of a directory, so a rename or create inside it is durable.
Status sync_directory(const std::filesystem::path &dir);

// Renames `from` over `to` (same directory, atomic on POSIX) and syncs the
// directory. Windows: MoveFileExW(MOVEFILE_REPLACE_EXISTING |
// MOVEFILE_WRITE_THROUGH), retried for a while when another process has the
// target open (see rename_replacing in win32.h).
Status publish_file(const std::filesystem::path &from, const std::filesystem::path &to);

// Creates the directory and its parents; errors name the directory.
Status ensure_directory(const std::filesystem::path &dir);

// Paths from and to the UTF-8 text blobfetch keeps them in (manifests, the C
// ABI, messages). std::filesystem::path(std::string) is not UTF-8 on Windows
// (libstdc++ and MSVC read the ANSI code page there), so a path that may
// hold non-ASCII characters is built with this. Portable.
std::filesystem::path path_from_utf8(std::string_view utf8);
std::string path_to_utf8(const std::filesystem::path &path);

}  // namespace blobfetch
