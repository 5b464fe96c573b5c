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
#include "io/dir_handle.h"
#include "io/positional_writer.h"
#include "state/download_state.h"

namespace blobfetch {

// The files of one blob, all in one open directory (io/dir_handle.h): every
// create, open, rename and unlink goes through `dir`, never through a path.
struct PartialPaths {
    std::shared_ptr<DirHandle> dir;    // the directory holding the blob (opened beneath the cache root)
    std::string rel_dir;               // its path relative to the cache root ("" for the root)
    std::string final_name;            // where the verified blob is published
    std::string data_name;             // <final>.part: the bytes as they arrive
    std::string state_name;            // <final>.dlstate: which chunks of .part are complete
    // The same as full paths, for messages.
    std::filesystem::path final_path, data, state;
    // The names are private to this process (never resumed by another): its
    // partial file is locked by it from the moment it appears (gc looks).
    bool private_names = false;
};
// `unique` (e.g. ".<pid>-<n>") makes the names private to one process:
// "" gives the shared, resumable `<final>.part` and `<final>.dlstate`.
// `dir` may be null until the directory is opened (set_directory()).
PartialPaths partial_paths(const std::filesystem::path &cache_dir, const std::string &relative_path,
                           std::string_view unique = "");
PartialPaths with_unique_names(const PartialPaths &paths, std::string_view unique);
// A suffix no other process and no blob name uses: `.~bf<pid>-<16 random hex>` (blob
// paths may not contain `.~bf`: see reserved_name_reason()).
std::string private_suffix();

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
    // The shared names hold another user's leftovers that this process may
    // neither open nor replace: the blob went to private names instead
    // (`paths` tells them); nothing of it is resumed or kept.
    bool went_private = false;
    PartialPaths paths;
};

// With `recheck`, first looks at the final name again (size, then SHA-256
// when `verify_hash`): a blob another process published meanwhile is
// reported `present`. Otherwise, in chunked mode, loads the sidecar: a record
// that matches the descriptor (URL, size, SHA-256) and the data file is kept,
// every chunk it claims is re-read and checked against its CRC-32, and
// chunks that fail are fetched again; anything else starts afresh (with a log
// line saying why) in a new `.part` file (O_EXCL: a leftover is removed
// first, never written into). Preallocates a known size of more than one
// chunk; fails before any transfer when the disk lacks the space.
// `chunk_size` applies to fresh records (a resumed record keeps its own).
// Precondition: paths.dir is set.
Expected<Prepared> prepare_partial(const BlobSpec &spec, const PartialPaths &paths, TransferMode mode,
                                   std::int64_t chunk_size, bool recheck, bool verify_hash,
                                   const CancellationToken &cancel, const Logger &log);

// Makes `snapshot` durable: with `durable`, fdatasync of the data first (so
// the record never claims bytes that are not on disk), then the atomic save
// of the sidecar. A failed data sync is for good (file.durability_lost()):
// the caller must not trust the file any more.
Status checkpoint_partial(IPositionalWriter &file, const DownloadState &snapshot, const PartialPaths &paths,
                          bool durable);

// Folds bytes [from, to) of `file` into `sha`. Returns `to`, or an error
// (Errc::cancelled when cancelled between 128 KiB pieces).
Expected<std::int64_t> hash_partial(IPositionalWriter &file, BlobHashes &sha, std::int64_t from, std::int64_t to,
                                    const CancellationToken &cancel);

// What publish_partial() checks a blob against.
struct PublishCheck {
    std::int64_t expected_size = -1;  // the descriptor's size, -1 unknown
    // What the engine knows arrived and was written: [0, landed) (every
    // chunk of the record, or the bytes of the one request or local copy),
    // never the file's length, which preallocation set.
    std::int64_t landed = -1;
    BlobHashes *sha = nullptr;  // the digests, with [0, hashed) already folded in
    std::int64_t hashed = 0;
    bool had_record = false;    // a sidecar may exist (chunked mode): removed after the rename
    bool durable = true;        // sync the directory after the rename
    const DirHandle *root = nullptr;  // when given: the directory must still be where the cache has it
};

// Verifies and publishes (closing `file` before the rename): `landed` must
// equal the expected size (when known), the file is cut to it, and, when the
// spec has one, the SHA-256 (SHA-512) must match. Then, in every durability
// mode, fdatasync: a file under its final name never holds bytes that are
// not on disk. Then a check that the directory was not moved or replaced, the
// rename into place, the removal of the sidecar and, when `durable`, a sync
// of the directory (shared with the other publishes of that directory running
// at once). A verification failure removes `.part` and the sidecar (the next
// run starts afresh) and says what differs; a failed sync removes them too
// (the disk may have dropped the bytes) and sets `*sync_failed`. A rename
// that fails while the final name already holds the right blob (another
// process won the race) counts as success.
// `replaced` (may be null) is set when the partial file's name no longer
// refers to the verified file (another process replaced it: the lock file
// was removed while in use); nothing is published then, and the files at the
// names are left to that process.
Status publish_partial(std::unique_ptr<IPositionalWriter> &file, const BlobSpec &spec, const PartialPaths &paths,
                       const PublishCheck &check, const CancellationToken &cancel, bool *sync_failed,
                       bool *replaced = nullptr);

// Removes `.part`, the sidecar and a leftover temporary sidecar.
void discard_partial(const PartialPaths &paths);

}  // namespace blobfetch
