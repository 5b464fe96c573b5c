#include "download/checkpoint_publish.h"

#include <memory>
#include <utility>

#include "download/outcome_policy.h"
#include "download/partial_file.h"
#include "lock/dir_lock.h"

namespace blobfetch::detail {

void CheckpointPublish::landed(Job &j, std::size_t len, std::int64_t offset, std::uint32_t chunk_crc,
                               std::uint64_t epoch) {
    if (!j.state || j.write_failed || j.epoch != epoch || j.phase == Phase::done) return;
    const auto i = static_cast<std::uint64_t>(offset / j.state->chunk_size);
    const std::int64_t end = offset + static_cast<std::int64_t>(len);
    j.state->note_prefix(i, end - chunk_range(i, j.state->blob_size, j.state->chunk_size).begin, chunk_crc);
    j.unsaved_bytes += static_cast<std::int64_t>(len);
}

void CheckpointPublish::chunk_complete(Job &j, std::uint64_t i, std::uint32_t crc) {
    j.state->complete(i, crc);
    while (j.prefix < j.state->chunks.size() && j.state->chunks.test(j.prefix)) ++j.prefix;
    maybe_hash(j);
    maybe_checkpoint(j, Clock::now());
}

void CheckpointPublish::maybe_hash(Job &j) {
    if (!j.sha || j.hashing || !j.failure.ok() || !j.state || j.finish_requested) return;
    const std::int64_t prefix_end =
        j.prefix == 0 ? 0 : chunk_range(j.prefix - 1, j.state->blob_size, j.state->chunk_size).end;
    if (prefix_end - j.hashed < m_options.hash_step) return;
    j.hashing = true;
    m_tasks.submit([this, file = j.file.get(), sha = j.sha.get(), from = j.hashed,
                    to = prefix_end] { return hash_partial(*file, *sha, from, to, m_cancel); },
                   [this, &j](Expected<std::int64_t> r) {
                       j.hashing = false;
                       if (r.ok() && !j.sha_stale) {
                           j.hashed = *r;
                       } else {
                           // Stale or partly fed: start the hash over (publish re-reads).
                           j.sha = BlobHashes::for_spec(*j.spec);
                           j.hashed = 0;
                           j.sha_stale = false;
                       }
                       settle(j);
                   });
}

void CheckpointPublish::maybe_checkpoint(Job &j, Clock::time_point now) {
    if (!j.state || j.checkpointing || !j.file || j.private_files || !j.failure.ok()) return;
    if (j.unsaved_bytes == 0 || j.state->chunks.all()) return;  // all: publishing follows
    if (j.unsaved_bytes < m_options.checkpoint_bytes && now - j.last_checkpoint < m_options.checkpoint_interval) return;
    j.checkpointing = true;
    j.unsaved_bytes = 0;
    j.last_checkpoint = now;
    auto snapshot = std::make_shared<DownloadState>(*j.state);
    // (The lock file is looked at too: one removed or replaced while held
    // protects nothing, and another process may be fetching the blob now.)
    const LockFile *lock_file = j.blob_lock && j.blob_lock->enforced() ? &j.blob_lock->file() : nullptr;
    auto lock_replaced = std::make_shared<bool>(false);
    m_tasks.submit(
        [this, file = j.file.get(), snapshot, paths = j.paths, lock_file, lock_replaced] {
            if (lock_file && !lock_file_still_named(*lock_file, *paths.dir)) *lock_replaced = true;
            return checkpoint_partial(*file, *snapshot, paths, m_options.durable);
        },
        [this, &j, lock_replaced](Status s) {
            j.checkpointing = false;
            CheckpointFacts f;
            f.status = s;
            f.lock_replaced = *lock_replaced;
            f.blob_failed = !j.failure.ok();
            f.cancelled = m_moves.cancel_seen();
            f.relocks_left = j.relocks < kMaxRelocks;
            f.durability_lost = j.file && j.file->durability_lost();
            f.sync_restarted = j.sync_restarted;
            switch (after_checkpoint(f)) {
                case AfterCheckpoint::go_on:
                    break;
                case AfterCheckpoint::warn_go_on:
                    m_log.warn("cannot record the progress of '" + j.spec->path + "': " + s.message() +
                               "; the download goes on, but an interruption now would lose more of it");
                    break;
                case AfterCheckpoint::relock:
                    // Stop, keep what landed (the record just saved), and
                    // take the lock again on the file that is there now.
                    j.after_close = CloseEnds::relock;
                    return m_moves.fail(j, Status(Errc::io, "the lock file of '" + j.spec->path + "' ('" +
                                                                j.paths.dir->show(kLockFileName).string() +
                                                                "') was removed or replaced while in use"));
                case AfterCheckpoint::start_fresh:
                    j.finish_requested = false;
                    j.sync_restarted = true;
                    j.after_close = CloseEnds::start_fresh;
                    m_log.warn(s.message() + "; '" + j.spec->path + "' is downloaded again into a fresh file");
                    return m_moves.fail(j, Status(Errc::io, s.message()));
                case AfterCheckpoint::fail_sync:
                    j.finish_requested = false;
                    return m_moves.fail(j, sync_failed_again(j, s));
            }
            settle(j);
        });
}

void CheckpointPublish::maybe_finish(Job &j) {
    if (!j.failure.ok() || !j.transfers.empty() || j.phase != Phase::transferring) return;
    const bool complete = j.state ? j.state->chunks.all() : j.landed >= 0;
    if (!complete) return;
    j.phase = Phase::finishing;
    j.finish_requested = true;
    m_progress.set_state(j.index, BlobState::verifying);
    settle(j);
}

void CheckpointPublish::settle(Job &j) {
    if (j.hashing || j.checkpointing || j.copying || j.pending_writes > 0) return;
    if (j.finish_requested) {
        j.finish_requested = false;
        publish(j);
    } else if (j.close_requested) {
        j.close_requested = false;
        close(j);
    }
}

void CheckpointPublish::publish(Job &j) {
    // The worker owns the file while publishing (it closes it before the rename).
    auto file = std::make_shared<std::unique_ptr<IPositionalWriter>>(std::move(j.file));
    PublishCheck check;
    check.expected_size = j.spec->size;
    check.landed = j.state ? j.state->blob_size : j.landed;
    check.sha = j.sha.get();
    check.hashed = j.hashed;
    check.had_record = j.mode == TransferMode::chunked;
    check.durable = m_options.durable;
    auto sync_failed = std::make_shared<bool>(false);
    auto replaced = std::make_shared<bool>(false);
    m_tasks.submit(
        [this, &j, file, check, sync_failed, replaced] {
            const auto root = m_dirs.root();
            PublishCheck c = check;
            c.root = root.get();
            return publish_partial(*file, *j.spec, j.paths, c, m_cancel, sync_failed.get(), replaced.get());
        },
        [this, &j, file, sync_failed, replaced](Status s) {
            PublishFacts f;
            f.status = s;
            f.lock_replaced = *replaced;
            f.cancelled = m_moves.cancel_seen();
            f.relocks_left = j.relocks < kMaxRelocks;
            f.resumed = j.resumed > 0;
            f.refetched = j.refetched;
            f.sync_failed = *sync_failed;
            f.sync_restarted = j.sync_restarted;
            f.file_kept = *file != nullptr;
            switch (after_publish(f)) {
                case AfterPublish::finish:
                    return m_moves.finish(j, std::move(s));
                case AfterPublish::relock:
                    // Another process works on the blob through a new
                    // lock file: wait for it there, then look at the
                    // cache again (it may have published the blob).
                    return m_moves.relock(j, s);
                case AfterPublish::refetch:
                    m_log.warn(s.message() + "; it was resumed from an earlier run, so '" + j.spec->path +
                               "' is downloaded once more from scratch");
                    j.refetched = true;
                    return m_moves.start_fresh(j);
                case AfterPublish::start_fresh:
                    // publish_partial gave the file up: a fresh one.
                    j.sync_restarted = true;
                    m_log.warn(s.message() + "; '" + j.spec->path + "' is downloaded again into a fresh file");
                    return m_moves.start_fresh(j);
                case AfterPublish::fail_sync:
                    return m_moves.finish(j, sync_failed_again(j, s));
                case AfterPublish::record_and_close:
                    j.file = std::move(*file);  // cancelled while hashing: record and close
                    return m_moves.fail(j, std::move(s));
            }
        });
}

// Keeps what landed (or removes the files), then the blob finishes, starts
// afresh or waits for its lock again, as the close was asked to end.
void CheckpointPublish::close(Job &j) {
    CloseFacts f;
    f.failure = j.failure.code();
    f.has_record = j.state.has_value();
    f.recorded_bytes = j.state ? j.state->recorded_bytes() : 0;
    f.private_files = j.private_files;
    f.durability_lost = j.file && j.file->durability_lost();
    f.ends = j.after_close;
    const CloseDecision decision = on_close(f);
    const bool discard = decision.discard;
    auto snapshot = decision.keep ? std::make_shared<DownloadState>(*j.state) : nullptr;
    auto file = std::make_shared<std::unique_ptr<IPositionalWriter>>(std::move(j.file));
    m_tasks.submit(
        [this, &j, snapshot, file, discard] {
            Status s;
            if (snapshot && *file) s = checkpoint_partial(**file, *snapshot, j.paths, m_options.durable);
            file->reset();
            if (discard) discard_partial(j.paths);
            return s;
        },
        [this, &j](Status s) {
            if (!s.ok()) m_log.warn("cannot record the progress of '" + j.spec->path + "': " + s.message());
            const CloseEnds next = std::exchange(j.after_close, CloseEnds::finish);
            if (m_moves.cancel_seen() || next == CloseEnds::finish) return m_moves.finish(j, j.failure);
            if (next == CloseEnds::relock) return m_moves.relock(j, j.failure);
            m_moves.start_fresh(j);
        });
}

Status CheckpointPublish::sync_failed_again(const Job &j, const Status &s) const {
    return Status(Errc::io, s.message() + "; '" + j.spec->path +
                                "' was already downloaded again into a fresh file after an earlier failure: the "
                                "disk keeps failing (see dmesg); nothing was published");
}

}  // namespace blobfetch::detail
