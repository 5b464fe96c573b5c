#pragma once
// File-system primitives: an owned descriptor, EINTR/short-write-safe
// positional writes, durability (fsync of files and directories) and atomic
// publication by rename.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "base/status.h"

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

// fdatasync (data, and the size) of an open file.
Status sync_data(int fd, const std::string &what);

// fsync of a directory, so a rename or create inside it is durable.
Status sync_directory(const std::filesystem::path &dir);

// Renames `from` over `to` (same directory, atomic on POSIX) and syncs the
// directory.
Status publish_file(const std::filesystem::path &from, const std::filesystem::path &to);

// Creates the directory and its parents; errors name the directory.
Status ensure_directory(const std::filesystem::path &dir);

}  // namespace blobfetch
