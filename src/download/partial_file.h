#pragma once
// The on-disk side of one blob download: the temporary data file
// `<final>.part` and its sidecar `<final>.dlstate`, opened or resumed,
// checkpointed, hashed, and finally published under the final name.
//
// Every function here blocks on file I/O; the engine runs them on worker
// threads, never on the transfer thread. None keeps state between calls.

#include <filesystem>
#include <memory>
#include <optional>

#include "base/cancellation.h"
#include "base/log.h"
#include "base/status.h"
#include "download/blob_spec.h"
#include "hash/crc32.h"
#include "hash/sha256.h"
#include "io/positional_writer.h"
#include "state/download_state.h"

namespace blobfetch {

struct PartialPaths {
    std::filesystem::path final_path;  // where the verified blob is published
    std::filesystem::path data;        // <final>.part: the bytes as they arrive
    std::filesystem::path state;       // <final>.dlstate: which chunks of .part are complete
};
// `unique` (e.g. ".<pid>-<n>") makes the names private to one process:
// "" gives the shared, resumable `<final>.part` and `<final>.dlstate`.
PartialPaths partial_paths(const std::filesystem::path &final_path, std::string_view unique = "");

// How a blob is transferred; decided before preparing it.
enum class TransferMode {
    single,   // one request without Range (small blobs, file:// URLs); no sidecar
    chunked,  // parallel Range requests with a sidecar (size known, or learned by a probe)
};

// The digests a blob is checked against, fed with its bytes in order.
struct BlobHashes {
    std::unique_ptr<Sha256> sha256;  // when the descriptor has a SHA-256
    std::unique_ptr<Sha512> sha512;  // when it has a SHA-512
    // nullptr when the descriptor has neither.
    static std::unique_ptr<BlobHashes> for_spec(const BlobSpec &spec);
    void update(const void *data, std::size_t len);
};

// What a sidecar records as the blob's expected digest: the descriptor's
// SHA-256, else the first 32 bytes of its SHA-512, else zeros.
Digest32 expected_digest(const BlobSpec &spec);

struct Prepared {
    std::unique_ptr<IPositionalWriter> file;
    // The chunk record (chunked mode, size known); nullopt for single mode and
    // for a chunked blob of unknown size (the first response tells it).
    std::optional<DownloadState> state;
    // Prefix [0, hashed) of the data already folded into `sha` (resume).
    std::unique_ptr<BlobHashes> sha;
    std::int64_t hashed = 0;
    std::int64_t resumed_bytes = 0;  // bytes of complete chunks kept from an earlier run
    std::uint64_t rejected_chunks = 0;  // claimed chunks whose CRC-32 did not match
    // >= 0: the blob is already complete in the cache (the re-check found
    // it, with this size); nothing else is set.
    std::int64_t present = -1;
};

// With `recheck`, first looks at the final path again (size, then SHA-256
// when `verify_hash`): a blob another process published meanwhile is
// reported `present`. Otherwise opens `.part` (creating the directory), and
// in chunked mode loads the
// sidecar: a record that matches the descriptor (URL, size, SHA-256) and the
// data file is kept, every chunk it claims is re-read and checked against its
// CRC-32, and chunks that fail are fetched again; anything else starts afresh
// (with a log line saying why). Preallocates the known size; fails before any
// transfer when the disk lacks the space. `chunk_size` applies to fresh
// records (a resumed record keeps its own).
Expected<Prepared> prepare_partial(const BlobSpec &spec, const PartialPaths &paths, TransferMode mode,
                                   std::int64_t chunk_size, bool recheck, bool verify_hash,
                                   const CancellationToken &cancel, const Logger &log);

// Makes `snapshot` durable: with `durable`, fdatasync of the data first (so
// the record never claims bytes that are not on disk), then the atomic save
// of the sidecar.
Status checkpoint_partial(IPositionalWriter &file, const DownloadState &snapshot, const PartialPaths &paths,
                          bool durable);

// Folds bytes [from, to) of `file` into `sha`. Returns `to`, or an error
// (Errc::cancelled when cancelled between 128 KiB pieces).
Expected<std::int64_t> hash_partial(IPositionalWriter &file, BlobHashes &sha, std::int64_t from, std::int64_t to,
                                    const CancellationToken &cancel);

// Verifies and publishes (closing `file` before the rename). `landed` is
// what the engine knows arrived and was written ([0, landed): every chunk of
// the record, or the bytes of the one request or local copy), never the
// file's length, which preallocation set: it must equal `expected_size`
// (when >= 0), the file is cut to it, and, when the spec has one, the
// SHA-256 must match (the prefix [0, hashed) is already in `sha`). Then
// fdatasync (when durable), rename into place, remove the sidecar, sync the
// directory. A verification failure removes `.part` and
// the sidecar (the next run starts afresh) and says what differs. A rename
// that fails while the final path already holds the right blob (another
// process won the race) counts as success.
Status publish_partial(std::unique_ptr<IPositionalWriter> &file, const BlobSpec &spec, const PartialPaths &paths,
                       std::int64_t expected_size, std::int64_t landed, BlobHashes *sha, std::int64_t hashed,
                       bool durable,
                       const CancellationToken &cancel);

// Removes `.part`, the sidecar and a leftover temporary sidecar.
void discard_partial(const PartialPaths &paths);

}  // namespace blobfetch
