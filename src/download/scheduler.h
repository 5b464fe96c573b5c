#pragma once
// The download engine's plan of one blob's requests, and of which blobs run:
// what a blob asks for next (retries due, the rest of a partly landed chunk,
// the next pending chunk), what a restart or a rewrite from offset 0 does to
// the plan, the chunk size, and the bound on blobs preparing or transferring
// at once. Pure bookkeeping on the engine's thread: no I/O, no clock of its
// own (the time is passed in), no progress reporting (the engine resets a
// blob's progress where a function says it forgets it).

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

#include "download/engine_job.h"

namespace blobfetch::detail {

// The configured chunk size, grown (in 64 KiB steps) for a blob so large that
// its record would exceed DownloadState::kMaxChunks chunks.
std::int64_t chunk_size_for(std::int64_t blob_size, std::int64_t configured);

// The next request of a transferring blob, if one may start now: a piece
// that is due (a retry, the single/stream/probe piece), else the next chunk
// no one has (resuming inside it where its first bytes landed). Until the
// first answer tells where the URL leads and whether ranges are served, one
// request at a time. Lowers `wake` to when a waiting piece is due.
std::optional<Piece> next_piece(Job &j, Clock::time_point now, Clock::time_point &wake);

// The running hash starts over (a hash task running now is thrown away when
// it ends).
void restart_hash(Job &j);

// What a blob starting over (against `identity`) no longer knows: older chunk
// completions stop counting (epoch), the plan goes, nothing of an earlier run
// is reused. (The caller resets its progress.)
void forget_progress(Job &j, const RemoteIdentity &identity);

// A stream from offset 0 is about to rewrite the blob: its chunks count again
// only as the stream completes them, and the hash starts over. The record on
// disk may still claim old chunks: their CRC-32 is checked on resume. (The
// caller resets its progress.)
void rewrite_from_zero(Job &j);

// The remote changed to `identity`: the blob's plan starts over against it
// (forget_progress, the hash, and the first request again: the single piece,
// a new size probe when the descriptor gives no size, or every chunk).
// Returns true when the file must be cut to 0 bytes first (the new remote of
// unknown size may be shorter).
bool replan_for_new_remote(Job &j, const RemoteIdentity &identity);

// The size of a blob of unknown size is known now (`total`, within bounds):
// a blob larger than one chunk gets its record (chunk 0 is the probe in
// flight, unless a huge blob needed larger chunks). Returns true when it got
// one (its file should be preallocated).
bool plan_for_size(Job &j, std::int64_t total);

// Which blobs prepare or transfer: at most `max_active` at once (each opens
// its files). A blob counts from its admission until it is done, except
// while it waits for a lock another process holds; a blob that comes to hold
// its lock when there is no room waits in the ready queue, which goes first.
class Admission {
public:
    explicit Admission(std::size_t max_active) : m_max(max_active) {}
    std::size_t max_active() const { return m_max; }
    bool room() const { return m_active < m_max; }
    // Counts the blob (again).
    void count(Job &j);
    // The blob waits without an active slot.
    void uncount(Job &j);
    // The blob holds its lock: true when it may prepare now, else it is queued.
    bool admit_held(Job &j);
    // The next queued blob, while there is room.
    Job *next_ready();
    // The blob is done: its slot and its place in the queue go.
    void done(Job &j);

private:
    std::size_t m_max;
    std::size_t m_active = 0;
    std::deque<Job *> m_ready;
};

}  // namespace blobfetch::detail
