#pragma once
// The handler of one HTTP request of the download engine: the write path from
// libcurl's callback to positional writes. Runs on the engine's transfer
// thread only; the engine (an IChunkSink) owns the buffers, the writer thread
// and the blob's state.

#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "download/engine_job.h"
#include "net/transport.h"

namespace blobfetch::detail {

class ChunkTransfer;

// How often a blob of unknown size asks its file system for the free space:
// once per this many bytes written at most (more often when the room left
// above min_free_space is smaller), never on every write.
inline constexpr std::int64_t kFreeSpaceCheckBytes = std::int64_t{8} << 20;

// What a ChunkTransfer needs from the engine. Every call comes from the
// transfer thread.
class IChunkSink {
public:
    virtual ~IChunkSink() = default;
    // Checks a response's status line and headers against the request.
    virtual Status on_head(ChunkTransfer &t, const ResponseHead &head) = 0;
    // `len` body bytes arrived for the job (progress accounting).
    virtual void on_received(Job &j, std::size_t len) = 0;
    // A write buffer of the engine's buffer size, or nullptr when the budget
    // is used up; every buffer taken goes back through submit_write() or
    // release_buffer().
    virtual char *take_buffer() = 0;
    virtual void release_buffer(char *buf) = 0;
    virtual std::size_t buffers_available() const = 0;
    // The largest blob accepted when its size is not known.
    virtual std::int64_t max_blob_size() const = 0;
    // Bytes a blob of unknown size must leave free on its file system.
    virtual std::int64_t min_free_space() const = 0;
    // Writes `len` bytes of `buf` at `offset` of the job's file (later, on
    // the writer thread), then takes the buffer back. A buffer never spans
    // two chunks; with a record, `chunk_crc` is the CRC-32 of the chunk's
    // bytes from its start through the buffer's end (what the record may
    // claim once the write landed).
    virtual void submit_write(Job &j, char *buf, std::size_t len, std::int64_t offset, std::uint32_t chunk_crc) = 0;
    // Every byte of chunk `i` (CRC-32 `crc`) was handed to submit_write().
    virtual void chunk_received(Job &j, std::uint64_t i, std::uint32_t crc) = 0;
};

// The handler of one request: coalesces libcurl's small pieces into a fixed
// buffer, writes it at its offset when full or at a chunk's end, computes
// each chunk's CRC-32 on the fly and reports completed chunks. A blob of
// unknown size (no end anywhere) is bounded twice: by max_blob_size, and by
// the disk: before its bytes would leave less than min_free_space free on
// the file system of its file (asked through IPositionalWriter::free_space,
// every kFreeSpaceCheckBytes), the transfer fails for good (Errc::io).
class ChunkTransfer final : public ITransferHandler {
public:
    ChunkTransfer(IChunkSink &sink, Job &job, const Piece &piece, std::size_t capacity)
        : job(job), piece(piece), m_sink(sink), m_cap(capacity), m_pos(piece.begin), m_chunk_begin(piece.begin),
          m_buf_offset(piece.begin), m_crc(piece.crc_seed) {}
    ~ChunkTransfer() override;

    Status on_head(const ResponseHead &head) override;
    Status on_body(const char *data, std::size_t len) override;
    // Back-pressure: a piece is taken only when the buffers it may need are
    // there (the writer gives them back as it catches up). (Only HTTP comes
    // here: libcurl cannot pause file:// transfers; those are local_copy.h's.)
    bool accepting(std::size_t len) override;
    // Hands the buffered bytes to the writer thread (to be written at their
    // offset); the next bytes go to a fresh buffer.
    void flush();
    // The write path: coalesce, CRC-32, write at the offset, complete chunks.
    Status write(const char *data, std::size_t len);

    // Bytes received since the last completed chunk (lost if this transfer fails).
    std::int64_t partial_bytes() const { return m_pos - m_chunk_begin; }
    bool made_progress() const { return m_chunk_begin > piece.begin; }
    std::int64_t position() const { return m_pos; }
    // What is left to fetch after a failure: from the unfinished chunk on
    // (from 0 for a request without Range); the piece itself (its CRC seed
    // included) while none of its chunks completed.
    Piece remaining() const {
        Piece p = piece;
        if (p.ranged && m_chunk_begin != p.begin) {
            p.begin = m_chunk_begin;
            p.crc_seed = 0;
        }
        return p;
    }

    Job &job;
    Piece piece;
    TransferId id = 0;
    bool superseded = false;       // replaced by a new plan; its outcome is ignored
    bool refused = false;          // the handler itself ended the transfer (a bad head or body)
    bool via_resolved = false;     // sent to the job's resolved_url (a redirect target learned earlier)
    bool error_retryable = false;  // the handler's own refusal is worth a retry

private:
    // Where the chunk holding `pos` ends (or `limit`), for a blob with a record.
    std::int64_t boundary(std::int64_t pos, std::int64_t limit) const;
    std::int64_t limit() const;
    // A blob of unknown size: fails when `len` more bytes would leave less
    // than min_free_space free (asking the file system when past m_space_ok_until).
    Status check_free_space(std::size_t len);

    IChunkSink &m_sink;
    char *m_buf = nullptr;
    std::size_t m_cap;
    std::size_t m_len = 0;
    std::int64_t m_pos;
    std::int64_t m_chunk_begin;
    std::int64_t m_buf_offset;
    std::uint32_t m_crc;  // CRC-32 of the current chunk's bytes so far (from its start)
    std::int64_t m_space_ok_until = -1;  // writing up to here was allowed by the last free-space check
};

}  // namespace blobfetch::detail
