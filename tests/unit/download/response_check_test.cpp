#include "download/response_check.h"

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

ResponseHead head(long status, std::string content_range = "", std::int64_t length = -1, std::string etag = "\"e1\"",
                  std::string last_modified = "") {
    ResponseHead h;
    h.status = status;
    h.content_range = std::move(content_range);
    h.content_length = length;
    h.etag = std::move(etag);
    h.last_modified = std::move(last_modified);
    return h;
}

HeadCheck check(const RequestedRange &r, std::int64_t size, const RemoteIdentity &known, const ResponseHead &h) {
    return check_response_head(r, size, known, h, "http://h/b.zip", "b.zip");
}

const RequestedRange kMiddle{100, 200, true};

TEST(ResponseCheck, MatchingPartialContent_IsAccepted) {
    auto c = check(kMiddle, 1000, {}, head(206, "bytes 100-199/1000", 100));
    EXPECT_EQ(c.verdict, HeadVerdict::accept);
    EXPECT_EQ(c.total, 1000);
    EXPECT_EQ(c.identity.etag, "\"e1\"");
}

TEST(ResponseCheck, PartialContentNotMatchingTheRequest_IsRejected) {
    for (const char *cr : {"bytes 101-199/1000", "bytes 100-198/1000", "bytes 100-299/1000", "bytes 0-99/1000"}) {
        auto c = check(kMiddle, 1000, {}, head(206, cr));
        EXPECT_EQ(c.verdict, HeadVerdict::reject) << cr;
        EXPECT_NE(c.error.message().find("misreports ranges"), std::string::npos) << c.error.message();
    }
    EXPECT_EQ(check(kMiddle, 1000, {}, head(206, "garbage")).verdict, HeadVerdict::reject);
    EXPECT_EQ(check(kMiddle, 1000, {}, head(206, "")).verdict, HeadVerdict::reject) << "206 without Content-Range";
    EXPECT_EQ(check(kMiddle, 1000, {}, head(206, "bytes 100-199/1000", 99)).verdict, HeadVerdict::reject)
        << "Content-Length disagrees with the range";
    EXPECT_EQ(check({0, -1, false}, 1000, {}, head(206, "bytes 0-999/1000")).verdict, HeadVerdict::reject)
        << "206 to a request without Range";
}

TEST(ResponseCheck, TotalOtherThanTheDescriptorSize_IsAVerificationError) {
    auto c = check(kMiddle, 1000, {}, head(206, "bytes 100-199/2000"));
    ASSERT_EQ(c.verdict, HeadVerdict::reject);
    EXPECT_EQ(c.error.code(), Errc::verify);
    EXPECT_NE(c.error.message().find("holds 2000 bytes"), std::string::npos) << c.error.message();
}

TEST(ResponseCheck, ProbeOfUnknownSize_LearnsTheSizeAndAcceptsAShortLastRange) {
    auto c = check({0, 65536, true}, -1, {}, head(206, "bytes 0-999/1000"));
    EXPECT_EQ(c.verdict, HeadVerdict::accept);
    EXPECT_EQ(c.total, 1000);
    auto star = check({0, 65536, true}, -1, {}, head(206, "bytes 0-65535/*"));
    EXPECT_EQ(star.verdict, HeadVerdict::range_ignored) << "no size to plan with: one stream";
    EXPECT_EQ(check(kMiddle, 1000, {}, head(206, "bytes 100-199/*")).verdict, HeadVerdict::accept)
        << "a known size needs no total";
}

TEST(ResponseCheck, WholeBodyToARangedRequest_MeansRangesAreIgnored) {
    auto c = check(kMiddle, 1000, {"\"e1\"", ""}, head(200, "", 1000));
    EXPECT_EQ(c.verdict, HeadVerdict::range_ignored);
    EXPECT_EQ(c.total, 1000);
    EXPECT_EQ(check({0, -1, false}, 1000, {}, head(200, "", 1000)).verdict, HeadVerdict::accept);
    EXPECT_EQ(check({0, -1, false}, -1, {}, head(0, "", 10)).verdict, HeadVerdict::accept) << "file:// answers 0";
}

TEST(ResponseCheck, WholeBodyOfTheWrongLength_IsAVerificationError) {
    auto c = check({0, -1, false}, 1000, {}, head(200, "", 1001));
    ASSERT_EQ(c.verdict, HeadVerdict::reject);
    EXPECT_EQ(c.error.code(), Errc::verify);
}

TEST(ResponseCheck, OtherValidators_MeanTheRemoteChanged) {
    const RemoteIdentity known{"\"e1\"", "Mon, 01 Jan 2024 00:00:00 GMT"};
    EXPECT_EQ(check(kMiddle, 1000, known, head(206, "bytes 100-199/1000", 100, "\"e2\"")).verdict,
              HeadVerdict::remote_changed);
    EXPECT_EQ(check(kMiddle, 1000, known, head(200, "", 1000, "\"e2\"")).verdict, HeadVerdict::remote_changed)
        << "an If-Range that no longer matches answers 200 with the new version";
    EXPECT_EQ(check(kMiddle, 1000, {"", "Mon, 01 Jan 2024 00:00:00 GMT"},
                    head(206, "bytes 100-199/1000", 100, "", "Tue, 02 Jan 2024 00:00:00 GMT"))
                  .verdict,
              HeadVerdict::remote_changed);
    EXPECT_EQ(check(kMiddle, 1000, known, head(206, "bytes 100-199/1000", 100, "\"e1\"")).verdict,
              HeadVerdict::accept);
}

TEST(ResponseCheck, OtherSuccessStatuses_AreRejected) {
    auto c = check(kMiddle, 1000, {}, head(204));
    EXPECT_EQ(c.verdict, HeadVerdict::reject);
    EXPECT_NE(c.error.message().find("HTTP 204"), std::string::npos);
}

}  // namespace
}  // namespace blobfetch
