#pragma once
// The temporary data file of one blob: positional writes from many transfers
// at once, positional reads (resume checks, hashing), preallocation and
// durability. Ranges are [offset, offset + len).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"

namespace blobfetch {

// Windows: the byte hold_lock() locks, past any blob (2^62), so that no read
// or write of the file's data ever meets it (Windows locks are mandatory).
inline constexpr std::uint64_t kPrivateHoldByte = std::uint64_t{1} << 62;

// Thread safety: write_at and read_at may run concurrently on disjoint
// ranges; the other members must not overlap a write.
class IPositionalWriter {
public:
    virtual ~IPositionalWriter() = default;
    // Writes all `len` bytes at `offset` (retrying interrupted and short
    // writes). Errors name the file; a full disk says so.
    virtual Status write_at(const void *data, std::size_t len, std::int64_t offset) = 0;
    // Reads up to `len` bytes at `offset`; fewer only at the end of the file.
    virtual Expected<std::size_t> read_at(void *data, std::size_t len, std::int64_t offset) = 0;
    // Makes written data durable (fdatasync / FlushFileBuffers). A failure
    // is for good: the kernel may have dropped the pages it could not write
    // (Linux reports such an error once, and a later sync "succeeds"), so
    // once sync() failed it keeps failing, and durability_lost() says so:
    // nothing written to this file may then be trusted or published.
    virtual Status sync() = 0;
    virtual bool durability_lost() const { return false; }
    // Takes an exclusive lock on the open file (flock; Windows: LockFileEx
    // of the one byte at kPrivateHoldByte) for as long as it stays open: how
    // `gc` tells that a private partial file's owner lives.
    virtual Status hold_lock() { return Status::success(); }
    virtual Expected<std::int64_t> size() = 0;
    // Sets the size to `size`, reserving the blocks where the file system
    // can; where it cannot (EOPNOTSUPP), checks the free space and sets the
    // size with ftruncate. Fails with a clear message, before anything is
    // transferred, when the disk lacks the space. Bytes already in the file
    // below `size` are kept.
    virtual Status preallocate(std::int64_t size) = 0;
    // The file's path as shown in messages.
    virtual const std::string &name() const = 0;
    // Bytes this process may still write on the file's file system
    // (statvfs f_bavail; Windows: GetDiskFreeSpaceEx for the caller), or -1
    // when it cannot tell. One system call; thread-safe, also during writes.
    virtual std::int64_t free_space() const { return -1; }
    // Files are created readable by their owner only (0600) while they are
    // partial; this opens them to the others as a new file would be
    // (0666 minus the process's umask), just before publishing.
    virtual Status make_public() { return Status::success(); }
    // Whether `name` in the directory open as `dir_fd` is this very file (the
    // same inode): checked before publishing it under another name, since a
    // name may have been taken over (someone removed the lock file, and
    // another process started the blob afresh). True where it cannot tell.
    virtual bool named(int dir_fd, const std::string &name) const {
        (void)dir_fd;
        (void)name;
        return true;
    }
};

class DirHandle;

// The allocation call preallocate() uses; replaceable so tests can play a
// file system without fallocate or a full disk. Same contract as
// fallocate(fd, 0, offset, len): 0, or -1 with errno set.
using AllocateFn = int (*)(int fd, std::int64_t offset, std::int64_t len);

enum class OpenMode {
    fresh,     // a new file (0600): whatever is at the name goes first (O_EXCL, then unlink and again)
    existing,  // the file that is there, which must be a regular file (Errc::not_found when none)
};

struct OpenOptions {
    OpenMode mode = OpenMode::fresh;
    AllocateFn allocate = nullptr;  // nullptr: fallocate
    // Set when the open failed because the file at the name belongs to
    // someone this process may not replace or open (EACCES, EPERM): a
    // leftover of another user in a shared cache.
    bool *not_ours = nullptr;
    // fresh only: a private file. It appears under its name already locked
    // (flock, held while it stays open), so that no one ever sees it
    // unlocked while its owner lives (`gc` judges private files so): made
    // unnamed (O_TMPFILE), locked, then linked in; where the file system
    // cannot, created and locked at once. A file already at the name is
    // never removed (it is someone else's): the open fails, and the caller
    // picks another name.
    bool locked = false;
};

// Opens `name` in `dir` for positional I/O, never following a symlink and
// never blocking on a FIFO. Errors name the file and say what to do.
Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const DirHandle &dir, std::string_view name,
                                                                    const OpenOptions &options);

// By path, opening the file that is there or creating it (0600): for tests
// and tools.
Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path);
Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path,
                                                                    AllocateFn allocate);

// An in-memory file: the test double. Thread-safe.
class MemoryWriter final : public IPositionalWriter {
public:
    explicit MemoryWriter(std::string name = "memory") : m_name(std::move(name)) {}
    Status write_at(const void *data, std::size_t len, std::int64_t offset) override;
    Expected<std::size_t> read_at(void *data, std::size_t len, std::int64_t offset) override;
    Status sync() override;
    Expected<std::int64_t> size() override;
    Status preallocate(std::int64_t size) override;
    const std::string &name() const override { return m_name; }

    std::string contents() const;
    int syncs() const;

private:
    mutable std::mutex m_mutex;
    std::string m_name;
    std::vector<char> m_bytes;
    int m_syncs = 0;
};

}  // namespace blobfetch
