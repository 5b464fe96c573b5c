// The portable part of the directory lock: waiting and holder text. The
// platform parts are dir_lock_posix.cpp and dir_lock_win32.cpp.
#include "lock/dir_lock.h"

#include <thread>

#include "lock/lock_layout.h"

namespace blobfetch {

Expected<std::unique_ptr<DirLock>> lock_directory(const std::filesystem::path &dir, std::chrono::milliseconds timeout,
                                                  const CancellationToken &cancel,
                                                  const std::function<void(const std::string &)> &on_busy) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    bool told = false;
    std::string holder;
    for (;;) {
        if (cancel.cancelled())
            return Status(Errc::cancelled, "cancelled while waiting for the lock on '" + dir.string() + "'");
        auto attempt = try_lock_directory(dir);
        if (!attempt) return attempt.status();
        if (attempt->lock) return std::move(attempt->lock);
        holder = attempt->holder;
        if (!told && on_busy) on_busy(holder);
        told = true;
        const auto now = Clock::now();
        if (now >= deadline)
            return Status(Errc::lock_timeout,
                          "timed out after " + std::to_string(timeout.count()) + " ms waiting for the lock '" +
                              (dir / kLockFileName).string() + "' held by " + describe_holder(holder) +
                              "; if that process is stuck, stop it (its lock goes with it) or raise lock_timeout_ms");
        const auto slice = std::min<Clock::duration>(std::chrono::milliseconds(100), deadline - now);
        if (cancel.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(slice) +
                            std::chrono::milliseconds(1)))
            return Status(Errc::cancelled, "cancelled while waiting for the lock on '" + dir.string() + "'");
    }
}

std::string describe_holder(const std::string &line) {
    // Only the parsed fields (the lock file is anyone's to write): a PID, a
    // time and a cleaned, bounded name; never the line itself.
    const auto f = lockfile::parse_holder(line);
    if (!f) return "another process";
    return "PID " + f->pid + " (since " + f->time + (f->blob.empty() ? "" : ", fetching '" + f->blob + "'") + ")";
}

}  // namespace blobfetch
