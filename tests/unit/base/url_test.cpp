#include "base/url.h"

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

TEST(UrlOrigin, SchemeHostAndPort_DefaultPortsFilledIn_CaseFolded) {
    auto o = url_origin("HTTPS://User:Pw@Cache.Example.COM/a/b?sig=1#f");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->scheme, "https");
    EXPECT_EQ(o->host, "cache.example.com");
    EXPECT_EQ(o->port, 443);
    EXPECT_EQ(o->text(), "https://cache.example.com:443");
    EXPECT_EQ(url_origin("http://h")->port, 80);
    EXPECT_EQ(url_origin("http://h:8080?x")->port, 8080);
    EXPECT_EQ(url_origin("http://[::1]:9/x")->host, "[::1]");
    EXPECT_EQ(url_origin("http://[::1]:9/x")->port, 9);
    EXPECT_EQ(url_origin("file:///tmp/x")->scheme, "file");
}

TEST(UrlOrigin, NotAnAbsoluteHttpUrl_HasNoOrigin) {
    for (const char *u : {"", "/relative", "h/x", "ftp://h/x", "http://", "http://h:0/", "http://h:99999/",
                          "http://h:8x/", "http://[::1/", "://h"})
        EXPECT_FALSE(url_origin(u)) << u;
}

TEST(UrlOrigin, SameOrigin_OnlyWhenSchemeHostAndPortAllMatch) {
    EXPECT_TRUE(same_origin("https://h/a", "https://H:443/b"));
    EXPECT_FALSE(same_origin("https://h/a", "http://h/a"));
    EXPECT_FALSE(same_origin("http://h/a", "http://h:8080/a"));
    EXPECT_FALSE(same_origin("http://127.0.0.1:80/a", "http://127.0.0.2:80/a"));
    EXPECT_FALSE(same_origin("http://h.evil/a", "http://h/a"));
    EXPECT_FALSE(same_origin("/relative", "/relative")) << "no origin, no match";
}

TEST(NormalizeUrl, IllegalCharactersAreEncoded_ExistingEscapesKept) {
    EXPECT_EQ(normalize_url("http://h/a b/c d.zip"), "http://h/a%20b/c%20d.zip");
    EXPECT_EQ(normalize_url("http://h/a%20b?x=%2F&y=1#f"), "http://h/a%20b?x=%2F&y=1#f");
    EXPECT_EQ(normalize_url("http://h/\x01\x7f\xc3\xa9"), "http://h/%01%7F%C3%A9");
    EXPECT_EQ(normalize_url("http://h/{a}|b^"), "http://h/{a}|b^") << "sent raw, as vcpkg does";
    EXPECT_EQ(normalize_url("http://h/\xc3\xa9"), "http://h/%C3%A9");
}

}  // namespace
}  // namespace blobfetch
