#include "download/download_engine.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>

#include "base/path_safety.h"
#include "download/checkpoint_publish.h"
#include "download/engine_job.h"
#include "download/engine_tasks.h"
#include "download/local_copy.h"
#include "download/lock_coordinator.h"
#include "download/partial_file.h"
#include "download/scheduler.h"
#include "download/transfer_driver.h"
#include "io/dir_handle.h"

namespace blobfetch {
namespace {

using detail::Clock;
using detail::Job;
using detail::Phase;
using detail::Piece;

// One call of DownloadEngine::run(), driven from the calling thread: it owns
// the blob set's jobs and wires the units that do the work, each in its own
// file with its own tests:
//   Admission, next_piece (scheduler.h)  which blobs run, what each asks for next
//   LockCoordinator (lock_coordinator.h) who may work on a path, cross-process locks
//   TransferDriver (transfer_driver.h)   the requests in flight and the write path
//   outcome_policy.h                      what follows a transfer, checkpoint, publish, close
//   CheckpointPublish (checkpoint_publish.h) the record, hash, checkpoints, publish, close
//   EngineTasks (engine_tasks.h)         the workers, the writer thread and the inbox
// Run itself keeps a blob's life cycle: admitted, locked, prepared (resumed
// or fresh), transferring or copied (file://), then finished, failed, waiting
// for its lock again or started afresh; and the cancel.
class Run final : public detail::BlobMoves {
public:
    Run(const EngineOptions &options, TransferLoop &loop, DirCache &dirs, FetchProgress &progress,
        const CancellationToken &cancel, const Logger &log)
        : m_options(options), m_loop(loop), m_progress(progress), m_stop(cancel), m_cancel(m_stop.token()),
          m_dircache(dirs), m_log(log),
          m_max_copies(std::max<std::size_t>(1, options.workers / 2)),
          m_max_active(std::max<std::size_t>(4, loop.capacity() + 16)),
          m_admission(m_max_active),
          m_locks({options.locking, options.lock_timeout, m_max_active},
                  [this](detail::LockAttempt a, detail::LockAttemptDone done) {
                      // On a worker, never on this thread.
                      m_tasks.submit([this, a = std::move(a)]() mutable { return attempt_locks(m_dircache, std::move(a)); },
                                     std::move(done));
                  },
                  {.held = [this](Job &j) { if (m_admission.admit_held(j)) start_prepare(j); },
                   .unlocked = [this](Job &j) { start_prepare(j); },
                   .waiting = [this](Job &j) { m_admission.uncount(j); },
                   .failed = [this](Job &j, Status s) { finish(j, std::move(s)); }},
                  progress, log),
          m_commit({options.durable, options.checkpoint_bytes, options.checkpoint_interval, options.hash_step}, m_tasks,
                   dirs, m_cancel, progress, log, *this),
          m_http(options, loop, m_tasks, m_commit, progress, log),
          m_tasks(options.workers, [this] { m_loop.wakeup(); }) {}

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
            m_http.resume_if_freed();
            if (m_cancel.cancelled() && !m_cancel_seen) on_cancel();
            const auto wait = schedule();
            if (m_done == m_jobs.size() && m_tasks.outstanding() == 0) break;
            for (auto &[id, outcome] : m_loop.run(wait)) m_http.on_outcome(id, outcome);
        }
        m_cancel.remove_waker(waker);
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
                finish(j, m_http.too_large(j, j.spec->size, "its descriptor says"));
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
                m_http.start(j, *piece);
            }
            m_commit.maybe_checkpoint(j, now);
        }
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
        return std::max(wait, std::chrono::milliseconds(0));
    }

    // ------------------------------------------------------------ blob life cycle
    void fail(Job &j, Status why) override { m_http.fail(j, std::move(why)); }

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
        m_http.size_known(j);  // a sidecar's
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
                                               if (j.failure.ok()) m_http.on_received(j, static_cast<std::size_t>(n));
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
                    m_http.size_known(j);
                }
                j.landed = *copied;
                m_commit.maybe_finish(j);
            });
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
    DirCache &m_dircache;            // the directories of this fetch
    std::deque<Job *> m_copy_queue;  // file:// blobs waiting for a copying worker
    std::size_t m_copies = 0;        // file:// copies running
    const Logger &m_log;

    std::vector<std::unique_ptr<Job>> m_jobs;
    std::vector<BlobOutcome> *m_outcomes = nullptr;
    std::size_t m_next_job = 0;
    std::size_t m_first_open = 0;  // jobs before it are all done
    std::size_t m_done = 0;
    bool m_cancel_seen = false;

    const std::size_t m_max_copies;   // file:// copies at once: at most half the workers
    const std::size_t m_max_active;   // blobs preparing or transferring at once (and directories open)
    detail::Admission m_admission;
    detail::LockCoordinator m_locks;
    detail::CheckpointPublish m_commit;
    detail::TransferDriver m_http;
    // Declared last: destroyed first, so every task (and its post()) has
    // finished before the members above go away.
    detail::EngineTasks m_tasks;
};

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
