#include "download/download_engine.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include <unistd.h>

#include "base/path_safety.h"
#include "download/checkpoint_publish.h"
#include "download/chunk_transfer.h"
#include "download/engine_job.h"
#include "download/local_copy.h"
#include "download/outcome_policy.h"
#include "download/lock_coordinator.h"
#include "download/partial_file.h"
#include "download/response_check.h"
#include "download/scheduler.h"
#include "download/engine_tasks.h"
#include "download/write_buffers.h"
#include "io/dir_handle.h"
#include "lock/blob_lock.h"
#include "lock/dir_lock.h"
#include "net/http_headers.h"

namespace blobfetch {
namespace {

using detail::ChunkTransfer;
using fs_path = std::filesystem::path;
using detail::Clock;
using detail::Job;
using detail::Phase;
using detail::Piece;

// One call of DownloadEngine::run(): the blob set's jobs, the transfers and
// the buffers, driven from the calling thread.
class Run final : public detail::IChunkSink, public detail::BlobMoves {
public:
    Run(const EngineOptions &options, TransferLoop &loop, DirCache &dirs, FetchProgress &progress,
        const CancellationToken &cancel, const Logger &log)
        : m_options(options), m_loop(loop), m_progress(progress), m_stop(cancel), m_cancel(m_stop.token()),
          m_dircache(dirs), m_log(log),
          m_buffers(options.write_buffer ? options.write_buffer
                                         : std::clamp<std::size_t>((1u << 20) / std::max<std::size_t>(1, loop.capacity()),
                                                                   16u << 10, 256u << 10),
                    2 * loop.capacity() + 2),
          m_max_copies(std::max<std::size_t>(1, options.workers / 2)),
          m_max_active(std::max<std::size_t>(4, loop.capacity() + 16)),
          m_admission(m_max_active),
          m_locks({options.locking, options.lock_timeout, m_max_active},
                  [this](detail::LockAttempt a, detail::LockAttemptDone done) {
                      m_tasks.submit([this, a = std::move(a)]() mutable { return detail::attempt_locks(m_dircache, std::move(a)); },
                             std::move(done));
                  },
                  {[this](Job &j) {
                       if (m_admission.admit_held(j)) start_prepare(j);
                   },
                   [this](Job &j) { start_prepare(j); }, [this](Job &j) { m_admission.uncount(j); }, [this](Job &j, Status s) { finish(j, std::move(s)); }},
                  progress, log),
          m_commit({options.durable, options.checkpoint_bytes, options.checkpoint_interval, options.hash_step}, m_tasks,
                   dirs, m_cancel, progress, log, *this),
          m_tasks(options.workers, [this] { m_loop.wakeup(); }) {}

    // On an exception unwinding through execute(): no transfer may outlive
    // its handler in the session's loop.
    ~Run() {
        for (auto &[id, t] : m_transfers) m_loop.abort(id);
    }

    void execute(const std::vector<BlobSpec> &specs, const std::vector<std::size_t> &which,
                 std::vector<BlobOutcome> &outcomes) {
        const std::filesystem::path &cache_dir = m_dircache.root_path();
        m_outcomes = &outcomes;
        m_jobs.reserve(which.size());
        for (std::size_t i : which) {
            auto j = std::make_unique<Job>();
            j->index = i;
            j->spec = &specs[i];
            j->paths = partial_paths(cache_dir, specs[i].path);
            j->path_key = path_key(path_to_utf8(j->paths.final_path));
            j->dir_key = path_key(j->paths.rel_dir);
            j->shown_url = redact_url(specs[i].url);
            const bool small = specs[i].size >= 0 && specs[i].size <= m_options.chunk_size;
            j->local = specs[i].url.rfind("file:", 0) == 0;
            j->mode = small || j->local ? TransferMode::single : TransferMode::chunked;
            j->chunk_size = detail::chunk_size_for(specs[i].size, m_options.chunk_size);
            m_jobs.push_back(std::move(j));
        }
        const std::uint64_t waker = m_cancel.add_waker([this] { m_loop.wakeup(); });
        while (m_done < m_jobs.size() || m_tasks.outstanding() > 0) {
            m_tasks.drain();
            if (m_buffers.take_freed() && m_loop.paused() > 0) m_loop.resume_paused();
            if (m_cancel.cancelled() && !m_cancel_seen) on_cancel();
            const auto wait = schedule();
            if (m_done == m_jobs.size() && m_tasks.outstanding() == 0) break;
            for (auto &[id, outcome] : m_loop.run(wait)) on_outcome(id, outcome);
        }
        m_cancel.remove_waker(waker);
    }

    // ------------------------------------------------------------ IChunkSink (called by ChunkTransfer)
    Status on_head(ChunkTransfer &t, const ResponseHead &head) override;

    void on_received(Job &j, std::size_t len) override {
        j.downloaded += static_cast<std::int64_t>(len);
        m_progress.add_bytes(j.index, static_cast<std::int64_t>(len));
    }

    void release_buffer(char *buf) override { m_buffers.give_back(buf); }
    char *take_buffer() override { return m_buffers.take(); }
    std::int64_t max_blob_size() const override { return m_options.max_blob_size; }
    std::int64_t min_free_space() const override { return m_options.min_free_space; }
    std::size_t buffers_available() const override { return m_buffers.available(); }

    // Queues `len` bytes of `buf` to be written at `offset` of the blob's
    // file; the buffer comes back to the pool once written. A failed write
    // fails the blob.
    void submit_write(Job &j, char *buf, std::size_t len, std::int64_t offset, std::uint32_t chunk_crc) override {
        ++j.pending_writes;
        m_tasks.write(
            [file = j.file.get(), buf, len, offset] {
                try {
                    return file->write_at(buf, len, offset);
                } catch (const std::exception &e) {
                    return Status(Errc::internal, std::string("internal error writing: ") + e.what());
                }
            },
            [this, &j, buf, len, offset, chunk_crc, epoch = j.epoch](Status s) {
                release_buffer(buf);
                --j.pending_writes;
                if (!s.ok()) {
                    j.write_failed = true;
                    fail(j, std::move(s));
                } else {
                    m_commit.landed(j, len, offset, chunk_crc, epoch);
                }
                m_commit.settle(j);
            });
    }

    // Runs `then` on this thread once every write queued before it for any
    // blob is done (the writer is one FIFO thread).
    void after_writes(Job &j, std::function<void()> then) {
        ++j.pending_writes;
        m_tasks.write([] { return Status::success(); },
                      [this, &j, then = std::move(then)](Status) {
                          --j.pending_writes;
                          then();
                          m_commit.settle(j);
                      });
    }

    // Cuts the blob's file to 0 bytes once every write queued before is done
    // (a restart of a blob of unknown size: nothing of the old remote's
    // length may stay). A failure fails the blob.
    void truncate_after_writes(Job &j) {
        if (!j.file) return;
        ++j.pending_writes;
        m_tasks.write(
            [file = j.file.get()] {
                try {
                    return file->preallocate(0);
                } catch (const std::exception &e) {
                    return Status(Errc::internal, std::string("internal error truncating: ") + e.what());
                }
            },
            [this, &j](Status s) {
                --j.pending_writes;
                if (!s.ok()) fail(j, std::move(s));
                m_commit.settle(j);
            });
    }

    // All bytes of chunk i were handed to the writer: it is complete once
    // they are written (and only if the blob did not start over meanwhile).
    void chunk_received(Job &j, std::uint64_t i, std::uint32_t crc) override {
        after_writes(j, [this, &j, i, crc, epoch = j.epoch] {
            // A chunk that fully landed counts also when the blob failed or
            // was cancelled meanwhile (the close records it), but not after
            // a write error, nor for a blob that started over.
            if (j.write_failed || j.epoch != epoch || !j.state || j.phase == Phase::done) return;
            m_commit.chunk_complete(j, i, crc);
            m_commit.maybe_finish(j);
        });
    }

private:
    // ------------------------------------------------------------ scheduling
    std::chrono::milliseconds schedule() {
        const auto now = Clock::now();
        // Blobs that hold their directory's lock come first.
        while (Job *j = m_admission.next_ready()) start_prepare(*j);
        while (m_admission.room() && m_next_job < m_jobs.size()) {
            Job &j = *m_jobs[m_next_job++];
            if (m_cancel_seen) {
                finish(j, Status(Errc::cancelled, stop_message("before '" + j.spec->path + "' started")));
                continue;
            }
            if (j.spec->size > m_options.max_blob_size) {
                finish(j, too_large(j, j.spec->size, "its descriptor says"));
                continue;
            }
            m_admission.count(j);
            m_locks.request(j, now);
        }
        Clock::time_point wake = now + std::chrono::milliseconds(100);
        m_locks.tick(now, wake);
        // Only admitted blobs can transfer: skip the finished head of the list
        // (a set of 10,000 blobs must not cost 10,000 checks per event).
        while (m_first_open < m_next_job && m_jobs[m_first_open]->phase == Phase::done) ++m_first_open;
        for (std::size_t k = m_first_open; k < m_next_job; ++k) {
            Job &j = *m_jobs[k];
            if (j.phase != Phase::transferring) continue;
            while (m_loop.active() < m_loop.capacity()) {
                auto piece = detail::next_piece(j, now, wake);
                if (!piece) break;
                start_transfer(j, *piece);
            }
            m_commit.maybe_checkpoint(j, now);
        }
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
        return std::max(wait, std::chrono::milliseconds(0));
    }

    void start_transfer(Job &j, const Piece &piece) {
        HttpRequest req;
        req.url = j.resolved_url.empty() ? j.spec->url : j.resolved_url;
        req.headers = j.spec->headers;
        req.headers_for = j.spec->url;  // the headers belong to the descriptor's origin
        if (piece.ranged) {
            req.range_begin = piece.begin;
            req.range_end = piece.end;
            req.if_range = j.identity.if_range();
        }
        auto t = std::make_unique<ChunkTransfer>(*this, j, piece, m_buffers.size());
        t->via_resolved = !j.resolved_url.empty();
        const TransferId id = m_loop.start(req, *t);
        t->id = id;
        j.transfers.push_back(id);
        m_transfers.emplace(id, std::move(t));
    }

    // ------------------------------------------------------------ blob life cycle
    void start_prepare(Job &j) {
        if (j.phase == Phase::locking) m_admission.count(j);
        j.phase = Phase::preparing;
        m_tasks.submit(
            [this, &j, paths = j.paths]() -> Expected<Prepared> {
                PartialPaths p = paths;
                if (!p.dir) {  // not locked: the directory is opened here
                    auto dir = m_dircache.get(p.rel_dir, /*create=*/true);
                    if (!dir) return dir.status();
                    p.dir = std::move(*dir);
                }
                // (A private file is locked by its owner from its creation: gc looks.)
                // (Always looked at again, with the lock: another process may
                // have published the blob meanwhile, also in a directory whose
                // lock file this run made, as gc removes lock files.)
                return prepare_partial(*j.spec, p, j.mode, j.chunk_size, /*recheck=*/true,
                                       m_options.verify_cached_hash, m_cancel, m_log);
            },
            [this, &j](Expected<Prepared> r) { on_prepared(j, std::move(r)); });
    }

    void on_prepared(Job &j, Expected<Prepared> r) {
        if (!r) {
            finish(j, r.status());
            return;
        }
        j.paths = r->paths;  // the opened directory; private names when the shared ones are another user's
        if (r->went_private) j.private_files = true;
        if (r->present >= 0) {
            // Published meanwhile, by another process or a blob of this fetch
            // with the same path (checked with the lock held).
            if (j.spec->size < 0) m_progress.set_size(j.index, r->present);
            m_progress.add_bytes(j.index, r->present);
            m_log.info("'" + j.spec->path + "' is in the cache now (published meanwhile); nothing to download");
            finish(j, Status::success(), r->present);
            return;
        }
        j.file = std::move(r->file);
        j.state = std::move(r->state);
        j.sha = std::move(r->sha);
        j.hashed = r->hashed;
        j.resumed = r->resumed_bytes;
        j.size = j.state ? j.state->blob_size : j.spec->size;
        size_known(j);  // a sidecar's
        if (j.state) {
            j.identity = j.state->identity;
            while (j.prefix < j.state->chunks.size() && j.state->chunks.test(j.prefix)) ++j.prefix;
        }
        j.last_checkpoint = Clock::now();
        m_progress.add_bytes(j.index, j.resumed);
        j.phase = Phase::transferring;
        m_progress.set_state(j.index, BlobState::downloading);
        if (m_cancel_seen) {
            fail(j, Status(Errc::cancelled, stop_message("while preparing '" + j.spec->path + "'")));
            return;
        }
        if (j.local) {
            start_local_copy(j);
        } else if (j.mode == TransferMode::single) {
            j.pieces.push_back(Piece{0, j.size, false, 0, {}});
        } else if (!j.state) {
            // Unknown size: the first chunk's answer tells it (Content-Range).
            j.pieces.push_back(Piece{0, j.chunk_size, true, 0, {}});
        }
        m_commit.maybe_hash(j);
        m_commit.maybe_finish(j);
    }

    // A file:// blob: a worker copies it (see local_copy.h) and reports the
    // bytes as they land; the blob then finishes like a downloaded one. At
    // most half the workers copy at once, so that long copies never keep the
    // other blobs' file work (checkpoints, publishing) waiting.
    void start_local_copy(Job &j) {
        if (m_copies >= m_max_copies) {
            m_copy_queue.push_back(&j);
            return;
        }
        ++m_copies;
        j.copying = true;
        m_tasks.submit(
            [this, &j, file = j.file.get(), url = j.spec->url, shown = j.shown_url, size = j.size] {
                return copy_local_file(url, shown, *file, size, m_options.max_blob_size, m_cancel,
                                       [this, &j](std::int64_t n) {
                                           m_tasks.post([this, &j, n] {
                                               if (j.failure.ok()) on_received(j, static_cast<std::size_t>(n));
                                           });
                                       });
            },
            [this, &j](Expected<std::int64_t> copied) {
                j.copying = false;
                --m_copies;
                start_queued_copies();
                if (!j.failure.ok()) return m_commit.settle(j);  // failed or cancelled meanwhile: close
                if (!copied) return fail(j, copied.status());
                if (j.size < 0) {
                    j.size = *copied;
                    size_known(j);
                }
                j.landed = *copied;
                m_commit.maybe_finish(j);
            });
    }

    Status too_large(const Job &j, std::int64_t size, const char *who) const {
        return Status(Errc::verify, "blob '" + j.spec->path + "' is too large: " + who + " " + std::to_string(size) +
                                        " bytes, more than max_blob_size (" + std::to_string(m_options.max_blob_size) +
                                        "); nothing was written (raise max_blob_size if it is right)");
    }

    // j.size is known now: the progress counts it in the total (the
    // descriptor's sizes are counted from the start).
    void size_known(const Job &j) {
        if (j.size >= 0 && j.spec->size < 0) m_progress.set_size(j.index, j.size);
    }

    // Called once the size of a blob of unknown size is known.
    Status learn_size(Job &j, std::int64_t total) {
        if (total > m_options.max_blob_size) return too_large(j, total, (j.shown_url + " announces").c_str());
        const bool recorded = detail::plan_for_size(j, total);
        size_known(j);
        // Fast (extents only) and needed before the parallel requests start.
        return recorded ? j.file->preallocate(total) : Status::success();
    }

    // Fails the blob: its transfers stop now (except `current`, whose own
    // callback is running and returns an error), then what landed is recorded.
    void fail(Job &j, Status why) override { fail(j, std::move(why), nullptr); }
    void fail(Job &j, Status why, ChunkTransfer *current) {
        if (!j.failure.ok() || j.phase == Phase::done) return;
        j.failure = std::move(why);
        abort_transfers(j, current);
        j.pieces.clear();
        j.phase = Phase::closing;
        j.close_requested = true;
        m_commit.settle(j);
    }

    // `present` >= 0: another process published the blob (that many bytes).
    void finish(Job &j, Status status) override { finish(j, std::move(status), -1); }
    void finish(Job &j, Status status, std::int64_t present) {
        if (j.phase == Phase::done) return;
        m_admission.done(j);
        if (j.phase == Phase::locking) m_locks.withdraw(j);
        m_locks.release(j, /*lock_file_replaced=*/false);  // released as soon as the blob is done
        j.phase = Phase::done;
        ++m_done;
        BlobOutcome &o = (*m_outcomes)[j.index];
        o.status = std::move(status);
        o.bytes_downloaded = j.downloaded;
        o.bytes_skipped = present >= 0 ? present : j.resumed;
        o.skipped = present >= 0;
        m_progress.set_state(j.index, !o.status.ok() ? BlobState::failed
                                      : o.skipped    ? BlobState::skipped
                                                     : BlobState::done);
        if (!o.status.ok() && o.status.code() != Errc::cancelled) {
            m_log.error(o.status.message());
            if (m_options.fail_fast && m_stop_reason.empty()) {
                m_stop_reason = "stopped because blob '" + j.spec->path + "' failed and fail_fast is set";
                m_stop.cancel();
            }
        }
        j.file.reset();
        j.sha.reset();
        j.state.reset();
        j.paths.dir.reset();  // a finished blob holds no directory open
    }

    void abort_transfers(Job &j, ChunkTransfer *except) {
        for (TransferId id : j.transfers) {
            if (except && id == except->id) continue;
            auto it = m_transfers.find(id);
            if (it == m_transfers.end()) continue;
            m_progress.add_bytes(j.index, -it->second->partial_bytes());
            m_loop.abort(id);
            m_transfers.erase(it);
        }
        j.transfers.clear();
        if (except) j.transfers.push_back(except->id);
    }

    // The blob's lock turned out to protect nothing (its lock file was
    // removed or replaced while held): the lock is given back and the blob
    // queues for its lock on the lock file that is there now. Once it holds
    // it, prepare_partial() looks at the cache again (another process may
    // have published the blob meanwhile) and resumes from the record.
    void relock(Job &j, const Status &why) override {
        ++j.relocks;
        m_log.warn(why.message() + "; '" + j.spec->path +
                   "' waits for its lock on the lock file that is there now, then looks at the cache again");
        m_locks.release(j, /*lock_file_replaced=*/true);
        j.paths.dir.reset();
        j.finish_requested = false;
        forget_files(j);
        m_locks.request(j, Clock::now());
    }

    // What a blob starting over from nothing no longer has: its failure,
    // progress, file, record and hash (the caller removed or gave up the
    // files, or leaves them to another process).
    void forget_files(Job &j) {
        j.failure = Status::success();
        j.close_requested = false;
        detail::forget_progress(j, {});
        m_progress.reset_bytes(j.index);
        j.file.reset();
        j.state.reset();
        j.sha.reset();
        j.unsaved_bytes = 0;
    }

    // Starts the blob over from nothing, in a fresh file (its old file and
    // record were removed or given up).
    void start_fresh(Job &j) override {
        forget_files(j);
        start_prepare(j);
    }

    void start_queued_copies() {
        while (!m_copy_queue.empty() && m_copies < m_max_copies) {
            Job *next = m_copy_queue.front();
            m_copy_queue.pop_front();
            if (next->failure.ok() && next->phase == Phase::transferring) start_local_copy(*next);
        }
    }

    // (scheduler.h's, and the blob's progress starts from zero again.)
    void rewrite_from_zero(Job &j) {
        detail::rewrite_from_zero(j);
        m_progress.reset_bytes(j.index);
    }

    // The remote changed under us: start the blob over against the new one.
    void restart(Job &j, ChunkTransfer &t, const RemoteIdentity &now_identity) {
        if (++j.restarts > m_options.max_restarts) {
            fail(j,
                 Status(Errc::verify, j.shown_url + " changed " + std::to_string(j.restarts) + " times while blob '" +
                                          j.spec->path + "' was downloading; nothing was published, try again later"),
                 &t);
            return;
        }
        m_log.warn(j.shown_url + " changed while blob '" + j.spec->path + "' was downloading (ETag '" +
                   shown_validator(j.identity.etag) + "' -> '" + shown_validator(now_identity.etag) +
                   "'); starting it afresh");
        t.superseded = true;
        abort_transfers(j, &t);
        const bool shorter = detail::replan_for_new_remote(j, now_identity);
        m_progress.reset_bytes(j.index);
        if (shorter) truncate_after_writes(j);  // the new remote may be shorter
    }

    // ------------------------------------------------------------ outcomes
    void on_outcome(TransferId id, const TransferOutcome &outcome) {
        auto it = m_transfers.find(id);
        if (it == m_transfers.end()) return;  // aborted
        std::unique_ptr<ChunkTransfer> t = std::move(it->second);
        m_transfers.erase(it);
        Job &j = t->job;
        std::erase(j.transfers, id);
        if (t->superseded || !j.failure.ok()) {
            m_progress.add_bytes(j.index, -t->partial_bytes());
            return;
        }
        detail::TransferFacts f;
        f.status = outcome.status;
        f.retryable = outcome.retryable;
        f.refused = t->refused;
        f.refusal_retryable = t->error_retryable;
        f.begin = t->piece.begin;
        f.end = t->piece.end >= 0 ? t->piece.end : j.size;
        f.position = t->position();
        f.ranged = t->piece.ranged;
        f.http_status = outcome.head.status;
        f.content_range = outcome.head.content_range;
        f.blob_size = j.size;
        f.via_resolved = t->via_resolved;
        f.made_progress = t->made_progress();
        f.attempt = t->piece.attempt;
        f.has_record = j.state.has_value();
        f.retry_after = outcome.head.retry_after;
        f.shown_url = j.shown_url;
        f.blob_path = j.spec->path;
        const detail::TransferDecision d = detail::after_transfer(f, m_options.retry);
        if (d.action == detail::AfterTransfer::complete) {
            if (d.forgiven)
                m_log.debug(d.status.message() + "; every byte of the response had arrived, so it counts as complete");
            t->flush();
            if (!j.state) {
                // Whole once the writer has written the last bytes.
                const std::int64_t got = t->position();
                after_writes(j, [this, &j, got, epoch = j.epoch] {
                    if (!j.failure.ok() || j.epoch != epoch || j.state) return;
                    j.landed = got;
                    if (j.size < 0) {
                        j.size = got;
                        size_known(j);
                    }
                    m_commit.maybe_finish(j);
                });
            }
            m_commit.maybe_finish(j);
            return;
        }
        m_progress.add_bytes(j.index, -t->partial_bytes());
        switch (d.action) {
            case detail::AfterTransfer::complete:
                break;
            case detail::AfterTransfer::empty_blob:
                j.size = 0;
                size_known(j);
                j.landed = 0;
                j.state.reset();
                m_commit.maybe_finish(j);
                break;
            case detail::AfterTransfer::ask_url_again: {
                m_log.info("the redirect target of " + j.shown_url + " answered HTTP " +
                           std::to_string(outcome.head.status) + "; asking " + j.shown_url + " again");
                j.resolved_url.clear();
                j.url_answered = false;
                Piece again = t->remaining();
                again.ready_at = Clock::now();
                j.pieces.push_back(again);
                break;
            }
            case detail::AfterTransfer::fail:
                fail(j, d.status);
                break;
            case detail::AfterTransfer::retry: {
                Piece next = t->remaining();
                next.attempt = d.attempt;
                if (d.rewrite_from_zero) rewrite_from_zero(j);
                m_log.warn(d.status.message() + "; retrying in " + std::to_string(d.delay.count()) +
                           " ms (attempt " + std::to_string(d.attempt + 1) + " of " +
                           std::to_string(m_options.retry.max_retries + 1) + ")");
                next.ready_at = Clock::now() + d.delay;
                j.pieces.push_back(next);
                break;
            }
        }
    }

    bool cancel_seen() const override { return m_cancel_seen; }

    std::string stop_message(const std::string &when) const {
        return m_stop_reason.empty() ? "cancelled " + when : m_stop_reason + " (" + when + ")";
    }

    void on_cancel() {
        m_cancel_seen = true;
        for (auto &jp : m_jobs) {
            Job &j = *jp;
            if (j.phase == Phase::transferring)
                fail(j, Status(Errc::cancelled, stop_message("while downloading '" + j.spec->path + "'")));
            else if (j.phase == Phase::locking)
                finish(j, Status(Errc::cancelled, stop_message("while '" + j.spec->path + "' waited for a lock")));
        }
    }

    const EngineOptions &m_options;
    TransferLoop &m_loop;
    FetchProgress &m_progress;
    CancellationSource m_stop;  // the caller's cancel, or fail-fast
    CancellationToken m_cancel;
    std::string m_stop_reason;  // set when fail-fast stopped the run
    DirCache &m_dircache;  // the directories of this fetch
    std::deque<Job *> m_copy_queue;                // file:// blobs waiting for a copying worker
    std::size_t m_copies = 0;                      // file:// copies running
    const Logger &m_log;

    std::vector<std::unique_ptr<Job>> m_jobs;
    std::vector<BlobOutcome> *m_outcomes = nullptr;
    std::size_t m_next_job = 0;
    std::size_t m_first_open = 0;  // jobs before it are all done
    std::size_t m_done = 0;
    bool m_cancel_seen = false;

    std::unordered_map<TransferId, std::unique_ptr<ChunkTransfer>> m_transfers;
    detail::WriteBuffers m_buffers;   // two per transfer: one filling, one being written
    const std::size_t m_max_copies;   // file:// copies at once: at most half the workers
    const std::size_t m_max_active;   // blobs preparing or transferring at once (and directories open)
    detail::Admission m_admission;
    detail::LockCoordinator m_locks;
    detail::CheckpointPublish m_commit;
    // Declared last: destroyed first, so every task (and its post()) has
    // finished before the members above go away.
    detail::EngineTasks m_tasks;
};

Status Run::on_head(ChunkTransfer &t, const ResponseHead &head) {
    Job &j = t.job;
    if (!j.url_answered) {
        j.url_answered = true;
        if (!head.url.empty() && head.url != j.spec->url) j.resolved_url = head.url;
    }
    const HeadCheck c = check_response_head({t.piece.begin, t.piece.end, t.piece.ranged}, j.size, j.spec->size >= 0,
                                            j.identity, head, j.shown_url, j.spec->path);
    switch (c.verdict) {
        case HeadVerdict::accept:
            break;
        case HeadVerdict::range_ignored:
            m_log.info(j.shown_url + " ignores Range requests; downloading blob '" + j.spec->path +
                       "' in one stream from the start");
            j.ranges = false;
            abort_transfers(j, &t);
            j.pieces.clear();
            rewrite_from_zero(j);  // the stream rewrites every byte: nothing hashed or complete stays
            if (t.piece.begin != 0 || head.status == 206) {
                t.superseded = true;
                j.pieces.push_back(Piece{0, -1, false, 0, {}});
                return Status(Errc::cancelled, "superseded by a single stream");
            }
            t.piece.ranged = false;  // this whole body is the stream from offset 0
            t.piece.end = -1;
            break;
        case HeadVerdict::remote_changed:
            restart(j, t, c.identity);
            t.superseded = true;
            return Status(Errc::cancelled, "superseded: the remote changed");
        case HeadVerdict::reject:
            return c.error;
    }
    if (j.identity.empty() && !c.identity.empty()) {
        j.identity = c.identity;
        if (j.state) j.state->identity = c.identity;
    }
    if (j.size < 0 && c.total >= 0) {
        if (Status s = learn_size(j, c.total); !s.ok()) return s;
    }
    if (j.size >= 0 && (t.piece.end < 0 || t.piece.end > j.size)) t.piece.end = j.size;
    return Status::success();
}

}  // namespace

DownloadEngine::DownloadEngine(EngineOptions options, TransferLoop &loop)
    : m_options(std::move(options)), m_loop(loop) {}

void DownloadEngine::run(DirCache &dirs, const std::vector<BlobSpec> &specs, const std::vector<std::size_t> &which,
                         std::vector<BlobOutcome> &outcomes, FetchProgress &progress, const CancellationToken &cancel,
                         const Logger &log) {
    if (which.empty()) return;  // everything was cached: no threads to start
    Run run(m_options, m_loop, dirs, progress, cancel, log);
    run.execute(specs, which, outcomes);
}

}  // namespace blobfetch
