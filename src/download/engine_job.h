#pragma once
// The download engine's private per-blob state, shared by the engine's units
// in src/download (download_engine.cpp wires them; see there). Not an
// interface: everything here is owned and touched by the engine's transfer
// thread (see Job); each unit's header says which members it owns.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "download/blob_spec.h"
#include "download/outcome_policy.h"
#include "download/partial_file.h"
#include "io/positional_writer.h"
#include "lock/blob_lock.h"
#include "net/transport.h"
#include "state/download_state.h"

namespace blobfetch::detail {

using Clock = std::chrono::steady_clock;

// A byte range waiting to be requested.
struct Piece {
    std::int64_t begin = 0;
    std::int64_t end = -1;  // exclusive; -1: to the end of the blob
    bool ranged = false;    // send a Range header
    int attempt = 0;        // failed tries of the piece's first chunk so far
    Clock::time_point ready_at{};
    // A piece that starts inside its chunk (the rest of a chunk whose first
    // bytes a record kept): the CRC-32 of the chunk's bytes before `begin`.
    std::uint32_t crc_seed = 0;
};

enum class Phase { queued, locking, preparing, transferring, finishing, closing, done };

// One blob. Owned and touched only by the engine thread; a worker task gets
// pointers to the members it alone uses while it runs (the file, which is
// safe for concurrent positional I/O, and the hash while `hashing`).
struct Job {
    std::size_t index = 0;
    const BlobSpec *spec = nullptr;
    PartialPaths paths;
    std::string path_key;  // path_key() of paths.final_path: one file, however spelled (m_busy_paths)
    std::string dir_key;   // path_key() of paths.rel_dir (the engine's directory entries)
    std::string shown_url;
    TransferMode mode = TransferMode::chunked;
    std::int64_t chunk_size = 0;   // for a fresh record; a resumed one keeps its own
    Phase phase = Phase::queued;
    bool counted = false;          // counts against the limit of active blobs
    bool ready = false;            // holds its lock, waits for an active slot
    void *dir_entry = nullptr;     // the engine's record of its directory, while it holds its lock
    std::unique_ptr<BlobLock> blob_lock;  // held from the lock attempt that took it until the blob is done
    int lock_attempts = 0;         // attempts at its lock so far
    std::string lock_holder;       // who holds it, as shown, while another process does
    bool owns_path = false;        // the only blob of this run working on its final path
    bool private_files = false;    // .part/.dlstate private to this process: never resumed
    Clock::time_point lock_since{};
    Clock::time_point next_lock_try{};

    std::unique_ptr<IPositionalWriter> file;
    std::optional<DownloadState> state;  // chunked mode once the size is known
    std::int64_t size = -1;
    RemoteIdentity identity;
    bool ranges = true;             // false once the server proved it ignores Range
    // Where the blob's URL led (redirects), learned from the first response
    // and used for its other requests; "" while unknown or when it is the URL
    // itself. Until a first response arrived, one request at a time goes out.
    std::string resolved_url;
    bool url_answered = false;
    std::vector<Piece> pieces;      // explicit work: retries, the single/stream/probe piece
    std::uint64_t next_chunk = 0;   // chunks below: complete, in flight, or in `pieces`
    std::uint64_t prefix = 0;       // chunks [0, prefix) are complete
    std::vector<TransferId> transfers;
    // Bytes a state-less blob's one piece (or its local copy) delivered and
    // the writer wrote, once it ended; -1 before. With a record, what landed
    // is the record's complete chunks. Publishing checks this, never the
    // file's (preallocated) length.
    std::int64_t landed = -1;
    bool local = false;             // a file:// URL: copied by a worker, never through libcurl
    bool copying = false;           // the worker's copy runs (it uses `file`)

    std::int64_t unsaved_bytes = 0;  // bytes written since the last checkpoint began
    Clock::time_point last_checkpoint;
    bool checkpointing = false;

    std::unique_ptr<BlobHashes> sha;
    std::int64_t hashed = 0;
    bool hashing = false;
    bool sha_stale = false;  // restart while hashing: reset the hash when the task ends

    std::int64_t downloaded = 0;
    std::int64_t resumed = 0;
    int restarts = 0;
    bool refetched = false;    // fetched again from scratch after resumed bytes failed the hash
    // A sync of its file failed (the disk may have dropped written pages):
    // the file is given up and the blob fetched once more into a fresh one.
    bool sync_restarted = false;
    // What the close now running ends in: finish(); a fresh start (a sync
    // of its file failed, see sync_restarted); or a new wait for its lock on
    // the lock file that is there now (its lock file was removed or replaced
    // while it held its lock, by a tmp cleaner: the lock protected nothing;
    // relock()). A cancel always ends in finish().
    CloseEnds after_close = CloseEnds::finish;
    int relocks = 0;
    std::uint64_t epoch = 0;   // bumped by a restart: older chunk completions no longer count
    int pending_writes = 0;    // buffers and barriers queued at the writer (also in Run::m_outstanding)
    bool write_failed = false; // no chunk is claimed after a failed write
    Status failure;               // set once; the blob then only closes
    bool finish_requested = false;
    bool close_requested = false;
};

}  // namespace blobfetch::detail
