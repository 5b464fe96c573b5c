#include "net/http_headers.h"

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

TEST(ContentRange, ParsesWellFormedValues) {
    auto r = parse_content_range("bytes 0-99/1000");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, 0);
    EXPECT_EQ(r->last, 99);
    EXPECT_EQ(r->total, 1000);
    auto star = parse_content_range("Bytes 5-5/*");
    ASSERT_TRUE(star);
    EXPECT_EQ(star->total, -1);
}

TEST(ContentRange, RefusesMalformedOrInconsistentValues) {
    for (const char *v : {"", "bytes", "bytes */1000", "bytes 10-5/100", "bytes 0-100/100", "bytes -1-5/10",
                          "items 0-1/2", "bytes 0-1/2x", "bytes 0-99999999999999999999/1", "bytes 1-2"})
        EXPECT_FALSE(parse_content_range(v)) << v;
}

TEST(UnsatisfiedRange, TheSizeOfA416) {
    EXPECT_EQ(parse_unsatisfied_range("bytes */1000"), 1000);
    EXPECT_EQ(parse_unsatisfied_range(" Bytes */0 "), 0);
    for (const char *v : {"", "bytes */", "bytes */x", "bytes 0-1/2", "bytes */-1", "items */3",
                          "bytes */99999999999999999999"})
        EXPECT_FALSE(parse_unsatisfied_range(v)) << v;
}

TEST(RetryAfter, SecondsAndHttpDates) {
    EXPECT_EQ(parse_retry_after("120", 0), std::chrono::seconds(120));
    EXPECT_EQ(parse_retry_after(" 0 ", 0), std::chrono::seconds(0));
    // Sun, 06 Nov 1994 08:49:37 GMT == 784111777
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), std::chrono::seconds(30));
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), std::chrono::seconds(0))
        << "a date in the past means now";
    EXPECT_FALSE(parse_retry_after("soon", 0));
    EXPECT_FALSE(parse_retry_after("", 0));
    EXPECT_FALSE(parse_retry_after("-5", 0));
}

TEST(HeaderLine, SplitsAndLowerCasesNames) {
    std::string n, v;
    ASSERT_TRUE(split_header_line("ETag: \"abc\"\r\n", n, v));
    EXPECT_EQ(n, "etag");
    EXPECT_EQ(v, "\"abc\"");
    EXPECT_FALSE(split_header_line("HTTP/1.1 200 OK\r\n", n, v));
    EXPECT_FALSE(split_header_line(": empty name", n, v));
    EXPECT_FALSE(split_header_line("bad name: x", n, v));
}

}  // namespace
}  // namespace blobfetch
