#pragma once
// The download engine's file work for a blob once its bytes land: the
// record of what landed (a write's prefix, a complete chunk), the running
// SHA-256/512 over the complete prefix (in hash_step steps, on a worker),
// the record saves (every checkpoint_bytes or checkpoint_interval, after a
// sync of the data when durable, with a look at the lock file), the publish
// (verify, sync, rename: partial_file.h's publish_partial) and the close of a
// failed, cancelled or restarting blob (keep the record or remove the files).
// What follows each is outcome_policy.h's decision; the blob's life-cycle
// moves (fail, finish, wait for the lock again, start afresh) are the
// engine's, reached through BlobMoves. Engine thread only; the file work
// itself runs through EngineTasks.

#include <chrono>
#include <cstdint>

#include "base/cancellation.h"
#include "base/log.h"
#include "base/status.h"
#include "download/engine_job.h"
#include "download/engine_tasks.h"
#include "download/fetch_progress.h"
#include "io/dir_handle.h"

namespace blobfetch::detail {

struct CheckpointOptions {
    bool durable = true;
    std::int64_t checkpoint_bytes = 8 << 20;
    std::chrono::milliseconds checkpoint_interval{2000};
    std::int64_t hash_step = 8 << 20;
};

// The engine's side: what becomes of a blob.
class BlobMoves {
public:
    virtual ~BlobMoves() = default;
    // The blob fails: its transfers stop, then it closes (settle()).
    virtual void fail(Job &j, Status why) = 0;
    // The blob is done with `status`.
    virtual void finish(Job &j, Status status) = 0;
    // Its lock protected nothing: wait for it again on the lock file there now.
    virtual void relock(Job &j, const Status &why) = 0;
    // Start over from nothing, in a fresh file.
    virtual void start_fresh(Job &j) = 0;
    virtual bool cancel_seen() const = 0;
};

class CheckpointPublish {
public:
    CheckpointPublish(CheckpointOptions options, EngineTasks &tasks, DirCache &dirs, const CancellationToken &cancel,
                      FetchProgress &progress, const Logger &log, BlobMoves &moves)
        : m_options(options), m_tasks(tasks), m_dirs(dirs), m_cancel(cancel), m_progress(progress), m_log(log),
          m_moves(moves) {}

    // A write of the blob landed (of a transfer of `epoch`): the record may
    // now claim its chunk's bytes up to the write's end (format v2's prefix).
    // Not for a blob that started over since, nor after a failed write.
    void landed(Job &j, std::size_t len, std::int64_t offset, std::uint32_t chunk_crc, std::uint64_t epoch);
    // Chunk `i` is complete (its bytes are written): recorded, hashed and
    // saved as due.
    void chunk_complete(Job &j, std::uint64_t i, std::uint32_t crc);
    // Folds the complete prefix into the hash once hash_step bytes are new.
    void maybe_hash(Job &j);
    // Saves the record once enough progress is unsaved (the close of a
    // failed or cancelled blob saves it unconditionally).
    void maybe_checkpoint(Job &j, Clock::time_point now);
    // Every byte is there: publishes once no file work of the blob runs.
    void maybe_finish(Job &j);
    // Starts the publish or the close once the blob's file work is done
    // (called whenever some of it ends).
    void settle(Job &j);

private:
    void publish(Job &j);
    void close(Job &j);
    Status sync_failed_again(const Job &j, const Status &s) const;

    CheckpointOptions m_options;
    EngineTasks &m_tasks;
    DirCache &m_dirs;
    CancellationToken m_cancel;  // (a copy: a handle on the run's cancellation)
    FetchProgress &m_progress;
    const Logger &m_log;
    BlobMoves &m_moves;
    // How often one blob waits again for its lock after its lock file was
    // removed or replaced while in use, before that failure counts.
    static constexpr int kMaxRelocks = 3;
};

}  // namespace blobfetch::detail
