// What asset_staging.cpp (POSIX) and asset_staging_win32.cpp share: the
// staged asset's lock wait, the staging directory's hold, the check of the
// bytes placed and the names of the placement temporaries.
#include "host/asset_staging.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "hash/sha256.h"
#include "io/file.h"
#include "lock/dir_lock.h"

namespace blobfetch::host {

namespace {

// Takes blob `name`'s lock in `dir`, trying every 100 ms for at most a
// minute while `stop` says false; `stopped` and `timed_out` (given the
// holder, as described) are the errors then.
Expected<std::unique_ptr<BlobLock>> lock_waiting(const DirHandle &dir, const std::string &name,
                                                const std::function<bool()> &stop, const std::string &stopped,
                                                const std::function<std::string(const std::string &)> &timed_out) {
    std::shared_ptr<LockFile> lock_file;
    for (int tries = 0;; ++tries) {
        auto attempt = try_lock_blobs(lock_file, dir, {name});
        if (!attempt) return attempt.status();
        if ((*attempt)[0].lock) return std::move((*attempt)[0].lock);
        if (stop()) return Status(Errc::cancelled, stopped);
        if (tries >= 600) return Status(Errc::lock_timeout, timed_out(describe_holder((*attempt)[0].holder)));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace

Expected<std::unique_ptr<BlobLock>> lock_staged_asset(const DirHandle &staging_dir, const std::string &sha512_hex,
                                                     const std::string &asset_shown, const std::string &dst_shown,
                                                     const std::function<bool()> &stop) {
    return lock_waiting(staging_dir, sha512_hex, stop, "the caller is gone: nothing placed at '" + dst_shown + "'",
                        [&](const std::string &holder) {
                            return "'" + asset_shown + "' stayed locked by " + holder +
                                   " for a minute; nothing was placed at '" + dst_shown + "'";
                        });
}

Expected<std::unique_ptr<BlobLock>> hold_staging(const Staging &staging, const std::function<bool()> &stop) {
    auto dir = DirHandle::open_beneath(staging.parent, staging.name, /*create=*/false);
    if (!dir) return dir.status();
    // A name no asset has (a SHA-512 is 128 hex digits) and no other call
    // shares, so that no fetch and no other x-script ever waits for it.
    // (The clock too, in case random_device is deterministic, as some
    // toolchains' have been.)
    std::random_device device;
    const auto now = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    const std::uint64_t bits = ((std::uint64_t{device()} << 32) | device()) ^ now;
    char nonce[17];
    std::snprintf(nonce, sizeof nonce, "%016llx", static_cast<unsigned long long>(bits));
    return lock_waiting(**dir, std::string("x-script hold ") + nonce, stop,
                        "the caller is gone: nothing was fetched or placed", [&](const std::string &holder) {
                            return "'" + path_to_utf8((*dir)->path()) + "' stayed locked by " + holder +
                                   " (blobfetch gc?) for a minute; nothing was fetched or placed";
                        });
}

Expected<std::string> sha512_of(int fd, const std::string &shown, const std::string &dst_shown,
                                const std::function<bool()> &stop) {
    Sha512 digest;
    std::vector<char> buf(1 << 20);
    for (std::int64_t offset = 0;;) {
        auto n = read_at_most(fd, buf.data(), buf.size(), offset, shown);
        if (!n) return n.status();
        if (*n == 0) break;
        if (stop()) return Status(Errc::cancelled, "the caller is gone: nothing placed at '" + dst_shown + "'");
        digest.update(buf.data(), *n);
        offset += static_cast<std::int64_t>(*n);
    }
    return digest.finish_hex();
}

Status discard_altered_asset(const DirHandle &staging_dir, const std::string &sha512_hex, const std::string &actual,
                             const std::string &asset_shown, const std::string &dst_shown) {
    std::string removed = "it was removed";
    if (const int e = staging_dir.unlink(sha512_hex); e != 0 && e != ENOENT)
        removed = std::string("removing it failed (") + std::strerror(e) + "): remove it by hand";
    return Status(Errc::verify, "'" + asset_shown + "' no longer holds the asset: its SHA-512 is " + actual.substr(0, 16) +
                                    "..., not " + sha512_hex.substr(0, 16) +
                                    "... (a file linked to it was changed in place?); " + removed +
                                    ", and nothing was placed at '" + dst_shown + "'");
}

namespace {

constexpr const char *kTemporaryPrefix = ".~bf";

bool all_digits(const std::string &s, std::size_t from, std::size_t to) {
    return from < to && to - from <= 20 && s.find_first_not_of("0123456789", from) >= to;
}

}  // namespace

std::string placement_temporary_name(unsigned long pid, PlacementKind kind) {
    static std::atomic<unsigned long> counter{0};
    return kTemporaryPrefix + std::to_string(pid) + "-" + std::to_string(counter.fetch_add(1)) +
           (kind == PlacementKind::link ? "-link" : "-copy");
}

bool is_placement_temporary(const std::string &name) {
    for (const std::string kind : {"-link", "-copy"}) {
        if (name.size() <= kind.size() || name.compare(name.size() - kind.size(), kind.size(), kind) != 0) continue;
        const std::size_t end = name.size() - kind.size();
        // ".~bf<pid>-<n>" (placement_temporary_name)
        if (name.rfind(kTemporaryPrefix, 0) == 0) {
            const std::size_t dash = name.find('-', 4);
            if (dash < end && all_digits(name, 4, dash) && all_digits(name, dash + 1, end)) return true;
        }
        // "<dst>.~bf<pid>": what older versions named them (too long for a {dst} of 240 bytes or more)
        const std::size_t at = name.rfind(kTemporaryPrefix, end);
        return at != std::string::npos && all_digits(name, at + 4, end);
    }
    return false;
}

}  // namespace blobfetch::host
