// blobfetch-lockholder: another process holding a cache directory's lock (or
// one blob's), for the lock tests. Takes the lock (waiting for it), prints
// "locked <pid>" on stdout, then holds it until RELEASE_FILE exists (it
// polls) or it is killed.
//   blobfetch-lockholder DIR RELEASE_FILE          the whole directory
//   blobfetch-lockholder DIR RELEASE_FILE BLOB...  the blobs named BLOB (file names in DIR)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "io/dir_handle.h"
#include "lock/blob_lock.h"
#include "lock/dir_lock.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: blobfetch-lockholder DIR RELEASE_FILE [BLOB...]\n");
        return 2;
    }
    std::unique_ptr<blobfetch::DirLock> whole;
    std::vector<std::unique_ptr<blobfetch::BlobLock>> blobs;
    if (argc == 3) {
        auto lock = blobfetch::lock_directory(argv[1], std::chrono::hours(1), {});
        if (!lock) {
            std::fprintf(stderr, "blobfetch-lockholder: %s\n", lock.message().c_str());
            return 1;
        }
        whole = std::move(*lock);
    } else {
        auto dir = blobfetch::DirHandle::open_root(argv[1], /*create=*/true);
        if (!dir) {
            std::fprintf(stderr, "blobfetch-lockholder: %s\n", dir.message().c_str());
            return 1;
        }
        std::shared_ptr<blobfetch::LockFile> file;
        std::vector<std::string> names(argv + 3, argv + argc);
        for (;;) {  // (a test tool: waits by polling)
            auto r = blobfetch::try_lock_blobs(file, **dir, names);
            if (!r) {
                std::fprintf(stderr, "blobfetch-lockholder: %s\n", r.message().c_str());
                return 1;
            }
            bool all = true;
            for (auto &a : *r) all = all && a.lock;
            if (all) {
                for (auto &a : *r) blobs.push_back(std::move(a.lock));
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    std::printf("locked %d\n", static_cast<int>(::getpid()));
    std::fflush(stdout);
    while (!std::filesystem::exists(argv[2])) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return 0;
}
