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

// Every event a fetch reports holds done <= total (when the total is known)
// and blob_done <= blob_total (when the blob's size is known).
void expect_consistent(const ProgressEvent &e) {
    if (e.total_bytes >= 0) {
        EXPECT_LE(e.done_bytes, e.total_bytes);
    }
    if (e.blob && e.blob_total_bytes >= 0) {
        EXPECT_LE(e.blob_done_bytes, e.blob_total_bytes);
    }
}

// A blob whose descriptor gave no size counts for the bytes it has: a set of
// 64 MiB known and 8 MiB unknown never shows 72 MiB done of 64 MiB.
TEST(FetchProgress, UnknownSizeAmongKnown_DoneNeverExceedsTheTotal) {
    FetchProgress p({64 << 20, -1});
    ProgressEvent last;
    auto collect = [&](const ProgressEvent &e) {
        expect_consistent(e);
        if (!e.blob) last = e;
        return false;
    };
    p.add_bytes(1, 3 << 20);
    p.emit(collect);
    EXPECT_EQ(last.total_bytes, (64 << 20) + (3 << 20));
    p.add_bytes(0, 64 << 20);
    p.add_bytes(1, 5 << 20);
    p.set_state(0, BlobState::done);
    p.set_state(1, BlobState::done);
    p.emit(collect);
    EXPECT_EQ(last.done_bytes, 72 << 20);
    EXPECT_EQ(last.total_bytes, 72 << 20);
}

// A size learned during the fetch (Content-Length, a sidecar, a local file)
// joins the total at once, and the blob's own events carry it.
TEST(FetchProgress, SizeLearnedDuringTheFetch_JoinsTheTotal) {
    FetchProgress p({-1, 1000});
    ProgressEvent last;
    std::vector<ProgressEvent> blob_events;
    auto collect = [&](const ProgressEvent &e) {
        expect_consistent(e);
        if (e.blob) blob_events.push_back(e);
        else last = e;
        return false;
    };
    p.emit(collect);
    EXPECT_EQ(last.total_bytes, 1000) << "only the known size so far";
    p.set_size(0, 3 << 20);
    p.add_bytes(0, 1 << 20);
    p.emit(collect);
    EXPECT_EQ(last.total_bytes, (3 << 20) + 1000);
    EXPECT_EQ(last.done_bytes, 1 << 20);
    p.add_bytes(0, 2 << 20);
    p.set_state(0, BlobState::done);
    blob_events.clear();
    p.emit(collect);
    ASSERT_EQ(blob_events.size(), 1u);
    EXPECT_EQ(blob_events[0].blob_total_bytes, 3 << 20);
    EXPECT_EQ(blob_events[0].blob_done_bytes, 3 << 20);

    FetchProgress alone({-1});
    alone.emit(collect);
    EXPECT_EQ(last.total_bytes, -1) << "nothing known yet";
    alone.set_size(0, 5000);
    alone.emit(collect);
    EXPECT_EQ(last.total_bytes, 5000);
}

}  // namespace
}  // namespace blobfetch
