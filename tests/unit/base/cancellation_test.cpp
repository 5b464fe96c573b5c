#include "base/cancellation.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

TEST(Cancellation, DefaultTokenIsNeverCancelled) {
    CancellationToken t;
    EXPECT_FALSE(t.cancelled());
    EXPECT_FALSE(t.wait_for(std::chrono::milliseconds(1)));
}

TEST(Cancellation, CancelIsSeenByEveryTokenAndWakers) {
    CancellationSource src;
    auto t = src.token();
    int woken = 0;
    t.add_waker([&] { ++woken; });
    src.cancel();
    src.cancel();
    EXPECT_TRUE(t.cancelled());
    EXPECT_EQ(woken, 1) << "wakers run once";
    int late = 0;
    t.add_waker([&] { ++late; });
    EXPECT_EQ(late, 1) << "a waker added after cancellation runs at once";
}

TEST(Cancellation, LinkedSourceFollowsItsParentButNotTheOtherWay) {
    CancellationSource parent;
    CancellationSource child(parent.token());
    child.cancel();
    EXPECT_FALSE(parent.cancelled());
    CancellationSource child2(parent.token());
    parent.cancel();
    EXPECT_TRUE(child2.cancelled());
}

TEST(Cancellation, ChildDestroyedBeforeParentCancelIsSafe) {
    CancellationSource parent;
    { CancellationSource child(parent.token()); }
    parent.cancel();
    EXPECT_TRUE(parent.cancelled());
}

TEST(Cancellation, WaitForReturnsEarlyWhenCancelledFromAnotherThread) {
    CancellationSource src;
    std::atomic<bool> waiting{false};
    std::thread canceller([&] {
        while (!waiting.load()) std::this_thread::yield();
        src.cancel();
    });
    waiting = true;
    // A one-hour wait that must end because of the cancel, not the clock.
    EXPECT_TRUE(src.token().wait_for(std::chrono::hours(1)));
    canceller.join();
}

TEST(Cancellation, RemovedWakerIsNotCalled) {
    CancellationSource src;
    int calls = 0;
    auto id = src.token().add_waker([&] { ++calls; });
    src.token().remove_waker(id);
    src.cancel();
    EXPECT_EQ(calls, 0);
}

// A waker that cancel() already took may be running when its owner removes
// it; remove_waker() waits for it, so the owner can then destroy what the
// waker touches (the engine's transfer loop). Under TSan and ASan too.
TEST(Cancellation, RemoveWaker_WaitsForAWakerThatCancelIsRunning) {
    for (int round = 0; round < 20; ++round) {
        CancellationSource source;
        auto owned = std::make_unique<std::atomic<int>>(0);
        std::atomic<bool> entered{false};
        std::atomic<bool> finished{false};
        const std::uint64_t id = source.token().add_waker([&, target = owned.get()] {
            entered = true;
            // A slow waker: it still runs when remove_waker() is called.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            target->fetch_add(1);
            finished = true;
        });
        std::thread canceller([&] { source.cancel(); });
        while (!entered) std::this_thread::yield();
        source.token().remove_waker(id);
        EXPECT_TRUE(finished) << "remove_waker returned while the waker still ran";
        owned.reset();  // what the waker touched goes away
        canceller.join();
    }
}

// Removing a waker from inside itself (on the cancelling thread) never waits
// for itself.
TEST(Cancellation, RemoveWaker_FromInsideTheWaker_DoesNotDeadlock) {
    CancellationSource source;
    std::uint64_t id = 0;
    bool ran = false;
    id = source.token().add_waker([&] {
        source.token().remove_waker(id);
        ran = true;
    });
    source.cancel();
    EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace blobfetch
