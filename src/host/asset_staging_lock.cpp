// The staged asset's lock wait, shared by asset_staging.cpp (POSIX) and
// asset_staging_win32.cpp.
#include "host/asset_staging.h"

#include <chrono>
#include <thread>

#include "lock/dir_lock.h"

namespace blobfetch::host {

Expected<std::unique_ptr<BlobLock>> lock_staged_asset(const DirHandle &staging_dir, const std::string &sha512_hex,
                                                     const std::string &asset_shown, const std::string &dst_shown,
                                                     const std::function<bool()> &stop) {
    std::shared_ptr<LockFile> lock_file;
    for (int tries = 0;; ++tries) {
        auto attempt = try_lock_blobs(lock_file, staging_dir, {sha512_hex});
        if (!attempt) return attempt.status();
        if ((*attempt)[0].lock) return std::move((*attempt)[0].lock);
        if (stop()) return Status(Errc::cancelled, "the caller is gone: nothing placed at '" + dst_shown + "'");
        if (tries >= 600)
            return Status(Errc::lock_timeout, "'" + asset_shown + "' stayed locked by " +
                                                  describe_holder((*attempt)[0].holder) +
                                                  " for a minute; nothing was placed at '" + dst_shown + "'");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace blobfetch::host
