#pragma once
// The resumable chunked download engine: downloads a set of blobs that are
// not in the cache yet.
//
// One thread (the caller of run()) drives every transfer through a
// TransferLoop: parallel HTTP Range requests, one chunk each, whose bytes go
// from libcurl's write callback through a fixed per-transfer buffer straight
// to positional writes. The engine owns all per-blob state on that thread;
// blocking file work (opening and checking partial files, fdatasync and
// sidecar saves, hashing the completed prefix, publishing) runs on a small
// TaskPool and reports back through an inbox, so no lock is ever held while
// doing I/O and the transfer thread never waits on the disk.
//
// Guarantees:
//  - a chunk is marked complete only after its bytes are written; a sidecar
//    that newly claims chunks is saved only after fdatasync of the data
//    (durable mode), every ~16 MiB or ~2 s, and on failure and cancellation;
//  - a chunk that fails for good fails its blob and aborts the blob's other
//    transfers at once (same thread: no waiting); a cancellation aborts
//    everything at once;
//  - a 200 to a ranged request falls back to one stream from offset 0; a
//    changed remote (validators differ) restarts the blob afresh;
//  - nothing is published unless its size and SHA-256 match;
//  - a blob's directory is locked (<dir>/.download.lock) while it is
//    prepared, transferred and published, so two processes never fetch the
//    same bytes; blobs whose directory's lock is held wait while the others
//    go on (one attempt per directory every 100 ms, on a worker, however many
//    blobs wait), and once it has the lock, a blob another process published
//    meanwhile is reported present without a request. Without locking (or
//    where the file system ignores locks) every process works in private
//    temporary files and only verified files are renamed into place;
//  - every file is opened, created, renamed and removed through its open
//    directory (never a path), and the directory is checked to be still in
//    place before publishing;
//  - a failed sync gives the file up (nothing claims or publishes its bytes)
//    and the blob is fetched once more into a fresh file.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "base/cancellation.h"
#include "base/log.h"
#include "download/blob_spec.h"
#include "download/fetch_progress.h"
#include "io/dir_handle.h"
#include "net/retry_policy.h"
#include "net/transport.h"

namespace blobfetch {

struct EngineOptions {
    std::int64_t chunk_size = 2 << 20;
    RetryPolicy retry;
    bool durable = true;                                  // fdatasync data before claiming it; fsync sidecars
    std::int64_t checkpoint_bytes = 8 << 20;              // save the sidecar after this many bytes landed...
    std::chrono::milliseconds checkpoint_interval{2000};  // ...or after this long, whichever first
    std::int64_t hash_step = 8 << 20;                     // fold the complete prefix into SHA-256 in steps of this
    // Coalescing buffer per transfer, two per transfer in all (0: 1 MiB shared
    // out over the transfers, 16 KiB to 256 KiB each), so memory never grows
    // with the chunk size.
    std::size_t write_buffer = 0;
    int max_restarts = 2;                                 // restarts after the remote changed, per blob
    std::size_t workers = 6;                              // threads for blocking file work
    bool locking = true;                                  // <dir>/.download.lock per blob directory
    std::chrono::milliseconds lock_timeout{3'600'000};    // how long a blob waits for another process's lock
    bool fail_fast = false;                               // one failed blob stops all the others
    bool verify_cached_hash = true;                       // the re-check after locking hashes, not just sizes
    std::int64_t max_blob_size = std::int64_t{1} << 40;   // larger sizes (descriptor or server) are refused
    // A blob of unknown size stops before its file system keeps less than
    // this free (see ChunkTransfer; asked every kFreeSpaceCheckBytes).
    std::int64_t min_free_space = std::int64_t{256} << 20;
};

// Runs one set of downloads. Not thread-safe: one run() at a time.
class DownloadEngine {
public:
    DownloadEngine(EngineOptions options, TransferLoop &loop);

    // Downloads specs[i] for every i in `which` into `cache_dir`, filling
    // outcomes[i]. Blocks until each is published, failed or cancelled;
    // returns within about 100 ms of `cancel` firing plus the time to record
    // the chunks that landed. `progress` is written (not emitted) from here.
    // Every file is reached through `dirs` (directories opened beneath its
    // root, never following a link; see io/dir_handle.h).
    void run(DirCache &dirs, const std::vector<BlobSpec> &specs, const std::vector<std::size_t> &which,
             std::vector<BlobOutcome> &outcomes, FetchProgress &progress, const CancellationToken &cancel,
             const Logger &log);

private:
    EngineOptions m_options;
    TransferLoop &m_loop;
};

}  // namespace blobfetch
