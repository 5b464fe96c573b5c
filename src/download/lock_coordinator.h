#pragma once
// The download engine's lock coordination: which blob of a run may work on
// a cache path, and when it holds its cross-process lock. Runs on the
// engine's thread only; never touches a file itself.
//
// One cache directory as a run uses it is a directory entry. Each blob takes
// its own lock (a byte-range lock in <dir>/.download.lock, lock/blob_lock.h),
// so blobs of one directory never wait on each other, only on another
// process fetching the same blob. The attempts for one directory are
// batched: one attempt at a time (run by the AttemptRunner it was given: on
// a worker in the engine, never on the engine's thread), at every blob that
// wants its lock then; while another process holds some, they are tried
// again by one attempt every 100 ms for the directory, however many wait.
// The directory and its lock file stay open while blobs hold locks through
// them or an attempt runs; at most `max_open_dirs` directories at once (an
// attempt waits for room), so a fetch over thousands of directories never
// holds thousands of descriptors. Two blobs of one run with the same path
// (path_key) never work at once: the second looks again every 100 ms.
//
// Of a Job it owns: owns_path, dir_entry, blob_lock, lock_attempts,
// lock_holder, lock_since, next_lock_try, and `paths` when the lock turns
// out to be shared with nobody (private names, private_files). It sets
// phase = locking while a blob asks or waits; everything else is the
// engine's. What it decides reaches the engine through LockClient.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "download/engine_job.h"
#include "download/fetch_progress.h"
#include "io/dir_handle.h"
#include "lock/blob_lock.h"

namespace blobfetch::detail {

// One attempt at the locks of some blobs of one directory: open the
// directory beneath the cache root when `dir` is null (creating it), its
// lock file when `file` is null, and try each name's lock.
struct LockAttempt {
    std::string rel_dir;
    std::shared_ptr<DirHandle> dir;
    std::shared_ptr<LockFile> file;
    std::vector<std::string> names;
};
struct LockAttemptResult {
    std::shared_ptr<DirHandle> dir;
    std::shared_ptr<LockFile> file;
    std::vector<BlobAttempt> results;  // one per name, in order
};
using LockAttemptDone = std::function<void(Expected<LockAttemptResult>)>;
// Runs an attempt somewhere and calls `done` later on the coordinator's
// thread (never from inside the runner call).
using LockAttemptRunner = std::function<void(LockAttempt, LockAttemptDone)>;

// The real attempt (what the engine's workers run).
Expected<LockAttemptResult> attempt_locks(DirCache &dirs, LockAttempt attempt);

struct LockClient {
    // The blob holds its lock (with private names when no lock can be
    // shared there): it may prepare.
    std::function<void(Job &)> held;
    // Locking is off: the blob owns its path, with private files, and
    // prepares at once.
    std::function<void(Job &)> unlocked;
    // The blob waits for another process (or another blob of this run): it
    // needs no active slot meanwhile.
    std::function<void(Job &)> waiting;
    // The blob cannot be locked (the attempt failed, or it waited longer
    // than lock_timeout): it is done with this status.
    std::function<void(Job &, Status)> failed;
};

struct LockOptions {
    bool locking = true;  // false: every blob works in private files
    std::chrono::milliseconds lock_timeout{3'600'000};
    std::size_t max_open_dirs = 4;
};

class LockCoordinator {
public:
    LockCoordinator(LockOptions options, LockAttemptRunner runner, LockClient client, FetchProgress &progress,
                    const Logger &log)
        : m_options(options), m_runner(std::move(runner)), m_client(std::move(client)), m_progress(progress),
          m_log(log) {}

    // The blob wants to work on its path (its first time, or again after
    // release(j, true)): it waits while another blob of this run works on
    // the path (asked again by tick()), then its directory's next attempt
    // takes its lock (LockClient::held or ::waiting follows); with locking
    // off it owns its path at once, with private files (LockClient::unlocked).
    void request(Job &j, std::chrono::steady_clock::time_point now);

    // Time-driven work: same-path blobs asked again, deferred and repeated
    // attempts launched, waits past lock_timeout failed. Lowers `wake` to
    // when it needs the next call.
    void tick(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point &wake);

    // A blob done while it still asked or waited (cancelled, or failed
    // before it held its lock): it is forgotten.
    void withdraw(Job &j);

    // Gives the blob's lock back, its path to the other blobs of this run
    // and its directory entry (the last user closes the directory). With
    // `lock_file_replaced`, the entry's next attempt opens the lock file that
    // is at the name now.
    void release(Job &j, bool lock_file_replaced);

    // (For tests.) Directories with an attempt running or a lock held.
    std::size_t open_dirs() const { return m_open_dirs; }
    std::size_t known_dirs() const { return m_dirs.size(); }

private:
    struct DirEntry;
    void launch_attempt(const std::shared_ptr<DirEntry> &entry);
    void on_attempt(const std::shared_ptr<DirEntry> &entry, const std::vector<Job *> &batch,
                    Expected<LockAttemptResult> r);
    void join_held(Job &j, DirEntry &entry);
    void timed_out(Job &j, DirEntry &entry);
    void forget_dir(const std::shared_ptr<DirEntry> &entry);
    void close_dir(DirEntry &entry);

    LockOptions m_options;
    LockAttemptRunner m_runner;
    LockClient m_client;
    FetchProgress &m_progress;
    const Logger &m_log;
    // By path_key() of the directory relative to the cache (on Windows `d`
    // and `D` are one directory, with one lock file).
    std::map<std::string, std::shared_ptr<DirEntry>> m_dirs;
    std::set<std::string> m_busy_paths;  // path_key of the final paths owned by a blob of this run
    std::vector<Job *> m_waiting;        // blobs waiting for another blob of this run with the same path
    std::size_t m_open_dirs = 0;
};

// Gives the blob private temporary names (.part/.dlstate nobody else uses;
// never resumed).
void use_private_files(Job &j);

}  // namespace blobfetch::detail
