// blobfetch-lockholder: another process holding a cache directory's lock, for
// the lock tests. Takes the lock (waiting for it), prints "locked <pid>" on
// stdout, then holds it until RELEASE_FILE exists (it polls) or it is killed.
//   blobfetch-lockholder DIR RELEASE_FILE
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "lock/dir_lock.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: blobfetch-lockholder DIR RELEASE_FILE\n");
        return 2;
    }
    auto lock = blobfetch::lock_directory(argv[1], std::chrono::hours(1), {});
    if (!lock) {
        std::fprintf(stderr, "blobfetch-lockholder: %s\n", lock.message().c_str());
        return 1;
    }
    std::printf("locked %d\n", static_cast<int>(::getpid()));
    std::fflush(stdout);
    while (!std::filesystem::exists(argv[2])) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return 0;
}
