#include "download/chunk_transfer.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

#include "base/log.h"
#include "hash/crc32.h"

namespace blobfetch::detail {

ChunkTransfer::~ChunkTransfer() { m_sink.release_buffer(m_buf); }  // unwritten bytes are dropped

// Called from inside libcurl: nothing may throw through it.
Status ChunkTransfer::on_head(const ResponseHead &head) {
    Status s;
    try {
        s = m_sink.on_head(*this, head);
    } catch (const std::exception &e) {
        s = Status(Errc::internal, std::string("internal error handling a response: ") + e.what());
    }
    refused = !s.ok();
    return s;
}

Status ChunkTransfer::on_body(const char *data, std::size_t len) {
    Status s;
    try {
        s = write(data, len);
    } catch (const std::exception &e) {
        s = Status(Errc::internal, std::string("internal error writing a response: ") + e.what());
    }
    refused = !s.ok();
    return s;
}

void ChunkTransfer::flush() {
    if (m_len == 0) return;
    m_sink.submit_write(job, m_buf, m_len, m_buf_offset, m_crc);
    m_buf = nullptr;
    m_buf_offset += static_cast<std::int64_t>(m_len);
    m_len = 0;
}

std::int64_t ChunkTransfer::limit() const {
    return piece.end >= 0 ? piece.end : (job.size >= 0 ? job.size : m_sink.max_blob_size());
}

std::int64_t ChunkTransfer::boundary(std::int64_t pos, std::int64_t lim) const {
    const DownloadState *st = job.state ? &*job.state : nullptr;
    if (!st) return lim;
    return std::min(lim, chunk_range(static_cast<std::uint64_t>(pos / st->chunk_size), st->blob_size, st->chunk_size).end);
}

bool ChunkTransfer::accepting(std::size_t len) {
    if (!m_buf) {
        m_buf = m_sink.take_buffer();
        if (!m_buf) return false;
    }
    // Buffers this piece will need beyond the current one: one when it fills
    // the buffer up, one when a chunk ends inside it.
    const auto n = static_cast<std::int64_t>(len);
    const std::int64_t lim = limit();
    std::size_t more = m_len + len > m_cap ? 1 : 0;
    if (n <= lim - m_pos && boundary(m_pos, lim) < m_pos + n) ++more;
    return more == 0 || m_sink.buffers_available() >= more;
}

Status ChunkTransfer::write(const char *data, std::size_t len) {
    m_sink.on_received(job, len);
    const std::int64_t lim = limit();
    if (static_cast<std::int64_t>(len) > lim - m_pos) {
        if (piece.end < 0 && job.size < 0)  // no size anywhere: the limit is max_blob_size
            return Status(Errc::verify, job.shown_url + " sent more than max_blob_size (" + std::to_string(lim) +
                                            " bytes) for blob '" + job.spec->path +
                                            "' of unknown size; nothing was published (raise max_blob_size if it "
                                            "is right)");
        error_retryable = true;
        return Status(Errc::http, job.shown_url + " sent more bytes than requested for blob '" + job.spec->path +
                                      "' (beyond offset " + std::to_string(lim) + ")");
    }
    if (piece.end < 0 && job.size < 0)
        if (Status s = check_free_space(len); !s.ok()) return s;
    while (len > 0) {
        if (!m_buf && !(m_buf = m_sink.take_buffer()))
            return Status(Errc::internal, "internal error: no write buffer although one was promised");
        const std::int64_t end = boundary(m_pos, lim);
        const std::size_t n = static_cast<std::size_t>(std::min<std::int64_t>(
            {static_cast<std::int64_t>(len), end - m_pos, static_cast<std::int64_t>(m_cap - m_len)}));
        std::memcpy(m_buf + m_len, data, n);
        const DownloadState *st = job.state ? &*job.state : nullptr;
        if (st) m_crc = crc32_update(m_crc, data, n);
        m_len += n;
        m_pos += static_cast<std::int64_t>(n);
        data += n;
        len -= n;
        if (m_len == m_cap) flush();
        if (st && m_pos == end && (m_pos % st->chunk_size == 0 || m_pos == st->blob_size)) {
            // Complete once its bytes are written (the writer says when).
            flush();
            m_sink.chunk_received(job, static_cast<std::uint64_t>((m_pos - 1) / st->chunk_size), m_crc);
            m_crc = 0;
            m_chunk_begin = m_pos;
        }
    }
    return Status::success();
}

Status ChunkTransfer::check_free_space(std::size_t len) {
    const auto n = static_cast<std::int64_t>(len);
    if (m_pos + n <= m_space_ok_until || !job.file) return Status::success();
    const std::int64_t avail = job.file->free_space();
    if (avail < 0) {  // the file system cannot tell: max_blob_size alone bounds it
        m_space_ok_until = m_pos + n + kFreeSpaceCheckBytes;
        return Status::success();
    }
    const std::int64_t reserve = m_sink.min_free_space();
    const std::int64_t room = avail - reserve;
    if (room < n)
        return Status(Errc::io, job.shown_url + " sent " + byte_size_text(m_pos) + " so far for blob '" + job.spec->path +
                                    "' of unknown size, and the disk holding '" + job.file->name() + "' has " +
                                    byte_size_text(avail) + " free: stopped before it keeps less than min_free_space (" +
                                    byte_size_text(reserve) + "); nothing was published (free some space or point the "
                                    "cache at a larger disk; min_free_space and max_blob_size bound blobs of unknown "
                                    "size)");
    m_space_ok_until = m_pos + std::min(room, kFreeSpaceCheckBytes);
    return Status::success();
}

}  // namespace blobfetch::detail
