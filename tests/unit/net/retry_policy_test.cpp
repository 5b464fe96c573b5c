#include "net/retry_policy.h"

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

TEST(RetryPolicy, BackoffGrowsWithJitterAndIsCapped) {
    RetryPolicy p;
    p.base_delay = std::chrono::milliseconds(100);
    p.max_delay = std::chrono::milliseconds(1000);
    for (int i = 0; i < 50; ++i) {
        auto d1 = p.delay(1, std::nullopt).count();
        EXPECT_GE(d1, 50);
        EXPECT_LE(d1, 100);
        auto d3 = p.delay(3, std::nullopt).count();
        EXPECT_GE(d3, 200);
        EXPECT_LE(d3, 400);
        auto d20 = p.delay(20, std::nullopt).count();
        EXPECT_GE(d20, 500);
        EXPECT_LE(d20, 1000);
    }
}

TEST(RetryPolicy, RetryAfterWinsButIsCapped) {
    RetryPolicy p;
    p.max_retry_after = std::chrono::milliseconds(5000);
    EXPECT_EQ(p.delay(1, std::chrono::seconds(2)), std::chrono::milliseconds(2000));
    EXPECT_EQ(p.delay(1, std::chrono::seconds(3600)), std::chrono::milliseconds(5000));
    EXPECT_EQ(p.delay(1, std::chrono::seconds(0)), std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace blobfetch
