#include "download/fetch_progress.h"

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

TEST(FetchProgress, ReportsStateChangesOnceAndTotalsEveryTime) {
    FetchProgress p({100, 50});
    std::vector<ProgressEvent> events;
    auto collect = [&](const ProgressEvent &e) {
        events.push_back(e);
        return false;
    };
    p.emit(collect);
    ASSERT_EQ(events.size(), 3u) << "two initial states, then the totals";
    EXPECT_EQ(events.back().total_bytes, 150);
    events.clear();
    p.emit(collect);
    EXPECT_EQ(events.size(), 1u) << "no change, only the totals";
    p.set_state(1, BlobState::skipped);
    p.add_bytes(1, 50);
    events.clear();
    p.emit(collect);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(*events[0].blob, 1u);
    EXPECT_EQ(events[0].blob_state, BlobState::skipped);
    EXPECT_EQ(events[1].done_bytes, 50);
}

TEST(FetchProgress, NeverGoesBackwards_RetryResetIsHidden) {
    FetchProgress p({100});
    std::int64_t last = 0;
    auto check = [&](const ProgressEvent &e) {
        EXPECT_GE(e.done_bytes, last);
        last = e.done_bytes;
        return false;
    };
    p.add_bytes(0, 60);
    p.emit(check);
    p.reset_bytes(0);
    p.add_bytes(0, 10);
    p.emit(check);
    EXPECT_EQ(last, 60);
    p.add_bytes(0, 500);  // more than the size: clamped
    p.emit(check);
    EXPECT_EQ(last, 100);
}

TEST(FetchProgress, UnknownSizesGiveUnknownTotal_CancelIsPropagated) {
    FetchProgress p({-1});
    bool saw_unknown = false;
    bool cancel = p.emit([&](const ProgressEvent &e) {
        if (!e.blob) saw_unknown = e.total_bytes == -1;
        return !e.blob.has_value();
    });
    EXPECT_TRUE(saw_unknown);
    EXPECT_TRUE(cancel);
}

}  // namespace
}  // namespace blobfetch
