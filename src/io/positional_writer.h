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
    // Makes written data durable (fdatasync / FlushFileBuffers).
    virtual Status sync() = 0;
    virtual Expected<std::int64_t> size() = 0;
    // Sets the size to `size`, reserving the blocks where the file system
    // can; where it cannot (EOPNOTSUPP), checks the free space and sets the
    // size with ftruncate. Fails with a clear message, before anything is
    // transferred, when the disk lacks the space. Bytes already in the file
    // below `size` are kept.
    virtual Status preallocate(std::int64_t size) = 0;
    // The file's path as shown in messages.
    virtual const std::string &name() const = 0;
    // Files are created readable by their owner only (0600) while they are
    // partial; this opens them to the others as a new file would be
    // (0666 minus the process's umask), just before publishing.
    virtual Status make_public() { return Status::success(); }
};

// Opens (creating it 0600 when missing, never following a symlink) the file
// at `path` for positional I/O. Errors name the file and say what to do.
Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path);

// The allocation call preallocate() uses; replaceable so tests can play a
// file system without fallocate or a full disk. Same contract as
// fallocate(fd, 0, offset, len): 0, or -1 with errno set.
using AllocateFn = int (*)(int fd, std::int64_t offset, std::int64_t len);
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
