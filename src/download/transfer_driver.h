#pragma once
// The download engine's HTTP side: every request in flight (a ChunkTransfer
// in the TransferLoop), the write path from their buffers to the writer
// thread, what a response's head means for its blob (a redirect learned,
// ranges ignored, the remote changed, the size learned: response_check.h)
// and what follows a request's end (outcome_policy.h's after_transfer).
// Completed bytes go on to CheckpointPublish. Engine thread only.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "base/log.h"
#include "base/status.h"
#include "download/checkpoint_publish.h"
#include "download/chunk_transfer.h"
#include "download/download_engine.h"
#include "download/engine_job.h"
#include "download/engine_tasks.h"
#include "download/fetch_progress.h"
#include "download/write_buffers.h"
#include "net/transport.h"

namespace blobfetch::detail {

class TransferDriver final : public IChunkSink {
public:
    TransferDriver(const EngineOptions &options, TransferLoop &loop, EngineTasks &tasks, CheckpointPublish &commit,
                   FetchProgress &progress, const Logger &log)
        : m_options(options), m_loop(loop), m_tasks(tasks), m_commit(commit), m_progress(progress), m_log(log),
          // Two buffers per transfer (one filling, one being written) of
          // write_buffer bytes, or 1 MiB shared out (16 KiB to 256 KiB each).
          m_buffers(options.write_buffer ? options.write_buffer
                                         : std::clamp<std::size_t>(
                                               (1u << 20) / std::max<std::size_t>(1, loop.capacity()), 16u << 10,
                                               256u << 10),
                    2 * loop.capacity() + 2) {}
    ~TransferDriver() override;
    TransferDriver(const TransferDriver &) = delete;
    TransferDriver &operator=(const TransferDriver &) = delete;

    // Sends the piece's request.
    void start(Job &j, const Piece &piece);
    // A request of the loop ended.
    void on_outcome(TransferId id, const TransferOutcome &outcome);
    // Fails the blob: its requests stop now (except `current`, whose own
    // callback is running and returns an error), then it closes
    // (CheckpointPublish::settle records what landed).
    void fail(Job &j, Status why, ChunkTransfer *current = nullptr);
    // Transfers paused for want of a buffer go on once one came back.
    void resume_if_freed() {
        if (m_buffers.take_freed() && m_loop.paused() > 0) m_loop.resume_paused();
    }
    // Runs `then` on the engine's thread once every write queued before it
    // for any blob is done (the writer is one FIFO thread).
    void after_writes(Job &j, std::function<void()> then);

    // The blob's size is known now: the progress counts it in the total
    // (the descriptor's sizes are counted from the start).
    void size_known(const Job &j);
    // "blob ... is too large: <who> <size> bytes, more than max_blob_size".
    Status too_large(const Job &j, std::int64_t size, const char *who) const;

    // ------------------------------------------------------------ IChunkSink (called by ChunkTransfer)
    Status on_head(ChunkTransfer &t, const ResponseHead &head) override;
    void on_received(Job &j, std::size_t len) override;
    char *take_buffer() override { return m_buffers.take(); }
    void release_buffer(char *buf) override { m_buffers.give_back(buf); }
    std::size_t buffers_available() const override { return m_buffers.available(); }
    std::int64_t max_blob_size() const override { return m_options.max_blob_size; }
    std::int64_t min_free_space() const override { return m_options.min_free_space; }
    void submit_write(Job &j, char *buf, std::size_t len, std::int64_t offset, std::uint32_t chunk_crc) override;
    void chunk_received(Job &j, std::uint64_t i, std::uint32_t crc) override;

private:
    void abort(Job &j, ChunkTransfer *except);
    void truncate_after_writes(Job &j);
    Status learn_size(Job &j, std::int64_t total);
    void rewrite_from_zero(Job &j);
    void restart(Job &j, ChunkTransfer &t, const RemoteIdentity &now_identity);

    const EngineOptions &m_options;
    TransferLoop &m_loop;
    EngineTasks &m_tasks;
    CheckpointPublish &m_commit;
    FetchProgress &m_progress;
    const Logger &m_log;
    WriteBuffers m_buffers;
    std::unordered_map<TransferId, std::unique_ptr<ChunkTransfer>> m_transfers;
};

}  // namespace blobfetch::detail
