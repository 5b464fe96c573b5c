// The portable part of the directory lock: waiting and holder text. The
// platform parts are dir_lock_posix.cpp and dir_lock_win32.cpp.
#include "lock/dir_lock.h"

#include <thread>

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
    if (line.empty()) return "another process";
    // PID:<pid>,Time:<iso8601>
    if (line.rfind("PID:", 0) == 0) {
        const auto comma = line.find(",Time:");
        if (comma != std::string::npos) {
            std::string pid = line.substr(4, comma - 4);
            std::string time = line.substr(comma + 6);
            while (!time.empty() && (time.back() == '\n' || time.back() == '\r')) time.pop_back();
            std::string blob;
            if (const auto b = time.find(",Blob:"); b != std::string::npos) blob = time.substr(b + 6);
            if (const auto c = time.find(','); c != std::string::npos) time.resize(c);  // (",Key:..", ",Blob:..")
            return "PID " + pid + " (since " + time + (blob.empty() ? "" : ", fetching '" + blob + "'") + ")";
        }
    }
    std::string shown = line.substr(0, 80);
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.pop_back();
    return "'" + shown + "'";
}

}  // namespace blobfetch
