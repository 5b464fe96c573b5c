#pragma once
// The download engine's decisions after each piece of work ends, computed
// from facts alone (no I/O, no state): what follows a transfer (complete,
// retry, ask the blob's own URL again, give up), a checkpoint (go on, wait
// for the lock again, start afresh), a publish (done, wait for the lock
// again, fetch from scratch, start afresh, record and close) and a close
// (keep the record, remove the files). The engine gathers the facts and
// carries the decision out; tests/unit/download/outcome_policy_test.cpp
// checks each as a table.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "net/retry_policy.h"

namespace blobfetch::detail {

// ------------------------------------------------------------ a transfer ended
struct TransferFacts {
    Status status;                  // the transfer's (libcurl's, or the handler's refusal)
    bool retryable = false;         // the transport deems the failure worth a retry
    bool refused = false;           // the handler itself ended it (a bad head or body)
    bool refusal_retryable = false; // ... and deems its refusal worth a retry
    std::int64_t begin = 0;         // the piece's first byte
    std::int64_t end = -1;          // where it should end: the piece's end, else the blob's size; -1 unknown
    std::int64_t position = 0;      // where its bytes reached
    bool ranged = false;            // it was a Range request
    int http_status = 0;            // 0: no response
    std::string content_range;      // the response's Content-Range (a 416's "bytes */N")
    std::int64_t blob_size = -1;    // as known now; -1 unknown
    bool via_resolved = false;      // sent to a redirect target learned earlier
    bool made_progress = false;     // completed at least one chunk
    bool retry_ranged = false;      // the retry (what remains) is a Range request
    int attempt = 0;                // failed tries of the piece so far
    bool has_record = false;        // the blob has a chunk record
    std::optional<std::chrono::seconds> retry_after;
    std::string shown_url;          // for messages
    std::string blob_path;
};

enum class AfterTransfer {
    complete,        // every byte asked for arrived
    empty_blob,      // the probe of a blob of unknown size found it empty (416, "bytes */0")
    ask_url_again,   // a redirect target refuses now: the blob's own URL again, for what remains
    retry,           // what remains, after `delay`, as attempt `attempt`
    fail,            // the blob fails with `status`
};

struct TransferDecision {
    AfterTransfer action = AfterTransfer::complete;
    Status status;                      // why (retry, fail), or the error that was forgiven (complete)
    int attempt = 0;                    // retry: the piece's failed tries so far
    std::chrono::milliseconds delay{0}; // retry
    bool rewrite_from_zero = false;     // retry: a try without Range rewrites a recorded blob from offset 0
    bool forgiven = false;              // complete: a failure after the last byte asked for
};

TransferDecision after_transfer(const TransferFacts &f, const RetryPolicy &retry);

// ------------------------------------------------------------ a checkpoint ended
struct CheckpointFacts {
    Status status;                // of the record's save
    bool lock_replaced = false;   // the lock file was no longer the one locked
    bool blob_failed = false;     // the blob failed meanwhile
    bool cancelled = false;       // the run is cancelled
    bool relocks_left = false;    // it may still wait for its lock again
    bool durability_lost = false; // a sync of its file failed
    bool sync_restarted = false;  // it already started afresh after a sync failure
};

enum class AfterCheckpoint {
    go_on,          // saved (or the blob failed meanwhile: its close records it)
    warn_go_on,     // not saved, but the data is safe: go on, an interruption loses more
    relock,         // stop, keep the record, wait for the lock on the lock file there now
    start_fresh,    // the disk may have dropped pages: give the file up, fetch into a fresh one
    fail_sync,      // a second sync failure: the disk keeps failing
};
AfterCheckpoint after_checkpoint(const CheckpointFacts &f);

// ------------------------------------------------------------ a publish ended
struct PublishFacts {
    Status status;                // of publish_partial
    bool lock_replaced = false;   // its partial file was found replaced (another process, a new lock file)
    bool cancelled = false;
    bool relocks_left = false;
    bool resumed = false;         // it reused bytes of an earlier run
    bool refetched = false;       // it was already fetched again from scratch
    bool sync_failed = false;     // publish_partial gave its file up after a failed sync
    bool sync_restarted = false;
    bool file_kept = false;       // the file is still open (publish_partial stopped before closing it)
};

enum class AfterPublish {
    finish,          // done with `status` (success, or a failure)
    relock,          // wait for the lock on the lock file there now, then look at the cache again
    refetch,         // the resumed bytes may be the culprit: once more from scratch
    start_fresh,     // a failed sync: once more into a fresh file
    fail_sync,       // a second sync failure: done, failed
    record_and_close // cancelled while hashing: record what landed, then close
};
AfterPublish after_publish(const PublishFacts &f);

// ------------------------------------------------------------ a blob closes (failed, cancelled, or starting over)
enum class CloseEnds { finish, start_fresh, relock };

struct CloseFacts {
    Errc failure = Errc::ok;      // why it closes
    bool has_record = false;
    std::int64_t recorded_bytes = 0;
    bool private_files = false;   // never resumed: nothing to keep
    bool durability_lost = false; // a sync of its file failed: nobody may claim its bytes
    CloseEnds ends = CloseEnds::finish;
};

struct CloseDecision {
    bool keep = false;     // save the record (the next run resumes)
    bool discard = false;  // remove .part and .dlstate
};
// Keeps what landed unless the source does not have the blob or holds
// something else; a blob starting afresh keeps nothing; one whose lock file
// was replaced leaves the names alone (another process may own them now).
CloseDecision on_close(const CloseFacts &f);

}  // namespace blobfetch::detail
