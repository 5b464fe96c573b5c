#include "base/cancellation.h"

#include <atomic>
#include <chrono>
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

}  // namespace
}  // namespace blobfetch
