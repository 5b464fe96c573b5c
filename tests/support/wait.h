#pragma once
// Bounded polling for tests: waits until a condition holds, checking it every
// few milliseconds, and gives up after `limit` (returns the last check). This
// is how tests wait for another process or thread, never a bare sleep.

#include <chrono>
#include <thread>

namespace blobfetch::test {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10),
                std::chrono::milliseconds every = std::chrono::milliseconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(every);
    }
    return pred();
}

}  // namespace blobfetch::test
