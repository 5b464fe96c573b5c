#pragma once
// The cross-process lock on a whole cache directory: a write lock on every
// byte of `<dir>/.download.lock`, which excludes (and waits for) the lock of
// every blob in it (blob_lock.h, where the file's layout and the lock rules
// are). gc holds it while it removes anything; fetches take blob locks.
//
// It belongs to an open file (Linux open file description locks), so the
// kernel releases it when the holder exits or dies: a lock is never stale.
// Two DirLock objects for the same directory conflict even inside one
// process. Its holder writes `PID:<pid>,Time:<ISO-8601 UTC>` padded with
// spaces to 64 bytes at offset 0, for diagnosis only. On file systems where
// locks do nothing (some network shares), acquisition still succeeds;
// enforced() tells, from a self-test with a second descriptor (once per file
// system and process), and the caller must then not rely on the lock.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/cancellation.h"
#include "base/status.h"

namespace blobfetch {

class DirLock {
public:
    ~DirLock();  // releases the lock
    DirLock(const DirLock &) = delete;
    DirLock &operator=(const DirLock &) = delete;

    const std::filesystem::path &path() const { return m_path; }
    // False when the file system ignored the lock (a second descriptor could
    // take it too): the caller must stay correct without it.
    bool enforced() const { return m_enforced; }
    // Why it is not enforced, as shown in a warning ("" when it is).
    const std::string &why_not_enforced() const { return m_why; }


    struct Impl;
    explicit DirLock(std::unique_ptr<Impl> impl, std::filesystem::path path, bool enforced, std::string why = {});

private:
    std::unique_ptr<Impl> m_impl;
    std::filesystem::path m_path;
    bool m_enforced;
    std::string m_why;
};

// The name of the lock file inside a directory.
inline constexpr const char *kLockFileName = ".download.lock";

struct TryLock {
    std::unique_ptr<DirLock> lock;  // set when acquired
    std::string holder;             // when busy: a holder's line, clean_holder()'s (lock_layout.h:
                                    // "PID:1234,Time:...[,Blob:<name>]"), "" if unknown
};

class DirHandle;

// One attempt, never waiting, in the open directory `dir` (the lock file is
// opened through it, so a directory swapped for a link cannot redirect it):
// takes the lock or reports who holds it. Errors (Errc::io) are real failures
// (the directory's permissions, I/O), never contention; where no lock can be
// shared through the lock file (another user's unwritable one, a directory, a
// symbolic link or a FIFO in its place) the lock is acquired not enforced,
// and why_not_enforced() names the path and the reason.
Expected<TryLock> try_lock_directory(const DirHandle &dir);
// The same by path, creating the directory when missing (tools, gc).
Expected<TryLock> try_lock_directory(const std::filesystem::path &dir);

struct LockProbe {
    bool held = false;   // another open file holds the directory's lock or a blob's now
    std::string holder;  // when held: the holder's line, clean_holder()'s, "" if unreadable
};
// Looks whether someone holds the lock of `dir`, creating, changing and
// removing nothing (a missing directory or lock file: not held). For the
// read-only commands (status, gc --dry-run).
Expected<LockProbe> probe_directory_lock(const std::filesystem::path &dir);

// Waits for the lock, trying again at most every 100 ms, so `cancel` is
// noticed within that (Errc::cancelled). Gives up after `timeout` with
// Errc::lock_timeout, naming the lock file and its holder. `on_busy` is
// called once, with the holder's line, when the first attempt finds the
// lock taken.
Expected<std::unique_ptr<DirLock>> lock_directory(const std::filesystem::path &dir, std::chrono::milliseconds timeout,
                                                  const CancellationToken &cancel,
                                                  const std::function<void(const std::string &)> &on_busy = {});

// "PID 1234 (since 2026-11-25T10:20:45Z)" from a holder line ("PID 1234
// (since ..., fetching 'name')" from a blob's, the name cleaned: valid UTF-8
// without control characters, at most 80 bytes); "another process" when it
// is empty or does not parse. Nothing of the line but those fields is shown
// (the lock file is writable by every user of the directory).
std::string describe_holder(const std::string &line);

}  // namespace blobfetch
