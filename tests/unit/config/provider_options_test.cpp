// Provider options: the defaults of the bounds on what a response may make
// blobfetch read or write, their ranges, and their round trip.
#include <gtest/gtest.h>

#include "config/provider_options.h"

namespace blobfetch::config {
namespace {

TEST(ProviderOptions, Defaults_ErrorBodiesReadForAtMost64KiBAnd5s_256MiBKeptFree_1TiBCap) {
    auto d = parse_provider_options_text("", "cfg");
    ASSERT_TRUE(d.ok()) << d.message();
    EXPECT_EQ(d->error_body_limit, 64 * 1024);
    EXPECT_EQ(d->error_body_timeout_ms, 5000);
    EXPECT_EQ(d->min_free_space, std::int64_t{256} << 20);
    EXPECT_EQ(d->max_blob_size, std::int64_t{1} << 40);
    const nlohmann::json j = to_json(*d);
    EXPECT_EQ(j["error_body_limit"], 65536);
    EXPECT_EQ(j["error_body_timeout_ms"], 5000);
    EXPECT_EQ(j["min_free_space"], 268435456);
}

TEST(ProviderOptions, ResponseBounds_ParsedInRange_RefusedOutside) {
    auto small = parse_provider_options_text(
        R"({"error_body_limit": 0, "error_body_timeout_ms": 1, "min_free_space": 0})", "cfg");
    ASSERT_TRUE(small.ok()) << small.message();
    EXPECT_EQ(small->error_body_limit, 0);
    EXPECT_EQ(small->error_body_timeout_ms, 1);
    EXPECT_EQ(small->min_free_space, 0);
    auto large = parse_provider_options_text(
        R"({"error_body_limit": 16777216, "error_body_timeout_ms": 600000, "min_free_space": 4611686018427387904})",
        "cfg");
    ASSERT_TRUE(large.ok()) << large.message();
    EXPECT_EQ(large->min_free_space, std::int64_t{1} << 62);
    EXPECT_EQ(to_json(*parse_provider_options(to_json(*large), "cfg", "")), to_json(*large));
    for (const char *bad : {R"({"error_body_limit": -1})", R"({"error_body_limit": 16777217})",
                            R"({"error_body_timeout_ms": 0})", R"({"error_body_timeout_ms": 600001})",
                            R"({"min_free_space": -1})", R"({"min_free_space": "1G"})"}) {
        auto r = parse_provider_options_text(bad, "cfg");
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.message().find("expected"), std::string::npos) << r.message();
    }
}

}  // namespace
}  // namespace blobfetch::config
