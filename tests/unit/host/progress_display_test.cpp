// The figures the host's progress line shows, whatever a plugin reports.
#include "host/progress_display.h"

#include <gtest/gtest.h>

namespace blobfetch::host {
namespace {

TEST(ProgressFigures, KnownTotal_PercentOfIt) {
    const auto f = progress_figures(64 << 20, 16 << 20, false);
    EXPECT_EQ(f.total, 64 << 20);
    EXPECT_EQ(f.done, 16 << 20);
    EXPECT_EQ(f.percent, 25);
}

// A plugin that counts more done than its total (one that never adds a size
// it learned) is not shown as "72.0 MiB / 64.0 MiB".
TEST(ProgressFigures, DoneAboveTheTotal_TheTotalIsShownAsDone) {
    const auto f = progress_figures(64 << 20, 72 << 20, true);
    EXPECT_EQ(f.total, 72 << 20);
    EXPECT_EQ(f.done, 72 << 20);
    EXPECT_EQ(f.percent, 100);
}

TEST(ProgressFigures, UnknownTotal_UnknownUntilEveryBlobIsIn_ThenWhatWasDone) {
    auto f = progress_figures(-1, 3 << 20, false);
    EXPECT_EQ(f.total, -1);
    EXPECT_EQ(f.percent, 0);
    f = progress_figures(-1, 3 << 20, true);
    EXPECT_EQ(f.total, 3 << 20);
    EXPECT_EQ(f.percent, 100);
    f = progress_figures(0, 0, true);  // a set of empty blobs
    EXPECT_EQ(f.total, 0);
    EXPECT_EQ(f.percent, 100);
    EXPECT_EQ(progress_figures(0, 0, false).percent, 0);
}

}  // namespace
}  // namespace blobfetch::host
