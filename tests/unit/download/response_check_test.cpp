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
    return check_response_head(r, size, /*size_given=*/true, known, h, "http://h/b.zip", "b.zip");
}

HeadCheck check_learned(const RequestedRange &r, std::int64_t size, const RemoteIdentity &known,
                        const ResponseHead &h) {
    return check_response_head(r, size, /*size_given=*/false, known, h, "http://h/b.zip", "b.zip");
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

// Issue 19 item 2: a validator the download started with that a later
// answer lacks is another remote, whatever other validator it sends.
TEST(ResponseCheck, ETagKnown_AnswerWithOnlyLastModified_IsAnotherRemote) {
    const RemoteIdentity known{"\"e1\"", ""};
    const auto c = check(kMiddle, 1000, known, head(206, "bytes 100-199/1000", 100, "", "Mon, 01 Jan 2024 00:00:00 GMT"));
    EXPECT_EQ(c.verdict, HeadVerdict::remote_changed);
}

TEST(ResponseCheck, ValidatorKnown_AnswerWithoutAny_IsAnotherRemote) {
    EXPECT_EQ(check(kMiddle, 1000, {"\"e1\"", ""}, head(206, "bytes 100-199/1000", 100, "")).verdict,
              HeadVerdict::remote_changed);
    EXPECT_EQ(check(kMiddle, 1000, {"", "Mon, 01 Jan 2024 00:00:00 GMT"}, head(206, "bytes 100-199/1000", 100, ""))
                  .verdict,
              HeadVerdict::remote_changed);
}

// Issue 19 item 15: a size learned from a stale record (or an earlier
// answer) that the remote no longer has means the remote changed.
TEST(ResponseCheck, LearnedSizeNoLongerHolds_IsRemoteChanged_GivenSizeIsRejected) {
    const auto ranged = head(206, "bytes 100-199/5000", 100, "");
    EXPECT_EQ(check_learned(kMiddle, 1000, {}, ranged).verdict, HeadVerdict::remote_changed);
    EXPECT_EQ(check(kMiddle, 1000, {}, ranged).verdict, HeadVerdict::reject);
    const auto whole = head(200, "", 5000, "");
    EXPECT_EQ(check_learned({0, -1, false}, 1000, {}, whole).verdict, HeadVerdict::remote_changed);
    EXPECT_EQ(check({0, -1, false}, 1000, {}, whole).verdict, HeadVerdict::reject);
}

// Issue 19 item 13: an over-long ETag is kept as its digest, equal across
// answers, and never sent in If-Range.
TEST(ResponseCheck, OverLongETag_ComparesByItsDigest_AcrossAnswers) {
    const std::string long_etag = "\"" + std::string(3000, 'x') + "\"";
    const auto first = check(kMiddle, 1000, {}, head(206, "bytes 100-199/1000", 100, long_etag));
    ASSERT_EQ(first.verdict, HeadVerdict::accept);
    EXPECT_LE(first.identity.etag.size(), DownloadState::kMaxEtag);
    EXPECT_TRUE(first.identity.strong_etag());
    EXPECT_EQ(first.identity.if_range(), "") << "a digest is never sent";
    EXPECT_EQ(check(kMiddle, 1000, first.identity, head(206, "bytes 100-199/1000", 100, long_etag)).verdict,
              HeadVerdict::accept);
    std::string other = long_etag;
    other[2000] = 'y';
    EXPECT_EQ(check(kMiddle, 1000, first.identity, head(206, "bytes 100-199/1000", 100, other)).verdict,
              HeadVerdict::remote_changed);
}

}  // namespace
}  // namespace blobfetch
