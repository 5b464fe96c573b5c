#include "download/transfer_driver.h"

#include <exception>
#include <string>
#include <utility>

#include "download/outcome_policy.h"
#include "download/response_check.h"
#include "download/scheduler.h"
#include "net/http_headers.h"

namespace blobfetch::detail {

TransferDriver::~TransferDriver() {
    // On an exception unwinding through the engine: no transfer may outlive
    // its handler in the session's loop.
    for (auto &[id, t] : m_transfers) m_loop.abort(id);
}

void TransferDriver::start(Job &j, const Piece &piece) {
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


void TransferDriver::abort(Job &j, ChunkTransfer *except) {
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


// Fails the blob: its transfers stop now (except `current`, whose own
// callback is running and returns an error), then what landed is recorded.
void TransferDriver::fail(Job &j, Status why, ChunkTransfer *current) {
    if (!j.failure.ok() || j.phase == Phase::done) return;
    j.failure = std::move(why);
    abort(j, current);
    j.pieces.clear();
    j.phase = Phase::closing;
    j.close_requested = true;
    m_commit.settle(j);
}


void TransferDriver::on_received(Job &j, std::size_t len) {
    j.downloaded += static_cast<std::int64_t>(len);
    m_progress.add_bytes(j.index, static_cast<std::int64_t>(len));
}


// Queues `len` bytes of `buf` to be written at `offset` of the blob's
// file; the buffer comes back to the pool once written. A failed write
// fails the blob.
void TransferDriver::submit_write(Job &j, char *buf, std::size_t len, std::int64_t offset, std::uint32_t chunk_crc) {
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
void TransferDriver::after_writes(Job &j, std::function<void()> then) {
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
void TransferDriver::truncate_after_writes(Job &j) {
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
void TransferDriver::chunk_received(Job &j, std::uint64_t i, std::uint32_t crc) {
    after_writes(j, [this, &j, i, crc, epoch = j.epoch] {
        // A chunk that fully landed counts also when the blob failed or
        // was cancelled meanwhile (the close records it), but not after
        // a write error, nor for a blob that started over.
        if (j.write_failed || j.epoch != epoch || !j.state || j.phase == Phase::done) return;
        m_commit.chunk_complete(j, i, crc);
        m_commit.maybe_finish(j);
    });
}


Status TransferDriver::too_large(const Job &j, std::int64_t size, const char *who) const {
    return Status(Errc::verify, "blob '" + j.spec->path + "' is too large: " + who + " " + std::to_string(size) +
                                    " bytes, more than max_blob_size (" + std::to_string(m_options.max_blob_size) +
                                    "); nothing was written (raise max_blob_size if it is right)");
}

// j.size is known now: the progress counts it in the total (the
// descriptor's sizes are counted from the start).
void TransferDriver::size_known(const Job &j) {
    if (j.size >= 0 && j.spec->size < 0) m_progress.set_size(j.index, j.size);
}

// Called once the size of a blob of unknown size is known.
Status TransferDriver::learn_size(Job &j, std::int64_t total) {
    if (total > m_options.max_blob_size) return too_large(j, total, (j.shown_url + " announces").c_str());
    const bool recorded = plan_for_size(j, total);
    size_known(j);
    // Fast (extents only) and needed before the parallel requests start.
    return recorded ? j.file->preallocate(total) : Status::success();
}


// (scheduler.h's, and the blob's progress starts from zero again.)
void TransferDriver::rewrite_from_zero(Job &j) {
    detail::rewrite_from_zero(j);  // scheduler.h's
    m_progress.reset_bytes(j.index);
}

// The remote changed under us: start the blob over against the new one.
void TransferDriver::restart(Job &j, ChunkTransfer &t, const RemoteIdentity &now_identity) {
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
    abort(j, &t);
    const bool shorter = replan_for_new_remote(j, now_identity);
    m_progress.reset_bytes(j.index);
    if (shorter) truncate_after_writes(j);  // the new remote may be shorter
}

// ------------------------------------------------------------ outcomes
void TransferDriver::on_outcome(TransferId id, const TransferOutcome &outcome) {
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
    TransferFacts f;
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
    const TransferDecision d = after_transfer(f, m_options.retry);
    if (d.action == AfterTransfer::complete) {
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
        case AfterTransfer::complete:
            break;
        case AfterTransfer::empty_blob:
            j.size = 0;
            size_known(j);
            j.landed = 0;
            j.state.reset();
            m_commit.maybe_finish(j);
            break;
        case AfterTransfer::ask_url_again: {
            m_log.info("the redirect target of " + j.shown_url + " answered HTTP " +
                       std::to_string(outcome.head.status) + "; asking " + j.shown_url + " again");
            j.resolved_url.clear();
            j.url_answered = false;
            Piece again = t->remaining();
            again.ready_at = Clock::now();
            j.pieces.push_back(again);
            break;
        }
        case AfterTransfer::fail:
            fail(j, d.status);
            break;
        case AfterTransfer::retry: {
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


Status TransferDriver::on_head(ChunkTransfer &t, const ResponseHead &head) {
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
            abort(j, &t);
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

}  // namespace blobfetch::detail
