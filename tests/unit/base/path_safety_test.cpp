#include "base/path_safety.h"

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

TEST(PathSafety, AcceptsPlainRelativePaths) {
    EXPECT_TRUE(check_relative_path("zlib/abc.zip").ok());
    EXPECT_TRUE(check_relative_path("a").ok());
    EXPECT_TRUE(check_relative_path("a..b/c...d").ok()) << "dots inside names are fine";
}

TEST(PathSafety, RefusesEscapes_DotDotAnywhere) {
    for (const char *p : {"..", "../x", "a/../../x", "a/..", "a/b/../c"}) {
        Status s = check_relative_path(p);
        EXPECT_EQ(s.code(), Errc::unsafe_path) << p;
        EXPECT_NE(s.message().find(p), std::string::npos) << s.message();
    }
}

TEST(PathSafety, RefusesAbsoluteAndOddForms) {
    for (const char *p : {"/etc/passwd", "", "a//b", "a/./b", "./a", "a/", "C:/x", "a\\..\\b"})
        EXPECT_EQ(check_relative_path(p).code(), Errc::unsafe_path) << p;
    EXPECT_EQ(check_relative_path(std::string_view("a\0b", 3)).code(), Errc::unsafe_path);
}

// The engine's own names are not blob paths: a blob named `.download.lock`
// would clobber the held lock, one named `x.part` another blob's partial file.
TEST(PathSafety, RefusesTheEnginesOwnNames_AnywhereInThePath) {
    for (const char *p : {".download.lock", "a/.download.lock", "x.zip.part", "x.zip.dlstate", "x.dlstate.tmp",
                          "dir.part/x.zip", "a/b.123.part", ".part", "tool.~bf12-3", "a.~bf/x"}) {
        Status s = check_relative_path(p);
        EXPECT_EQ(s.code(), Errc::unsafe_path) << p;
        EXPECT_NE(s.message().find(p), std::string::npos) << s.message();
        EXPECT_NE(s.message().find("blobfetch uses"), std::string::npos) << s.message();
    }
    for (const char *p : {"x.partial", "part", "x.part.zip", "download.lock", "x.dlstatex", "a.dlstate.tmp.zip"})
        EXPECT_TRUE(check_relative_path(p).ok()) << p;
}

TEST(RedactUrl, DropsQueryFragmentAndCredentials) {
    EXPECT_EQ(redact_url("https://h.example/c/b.zip?sv=1&sig=SECRET"), "https://h.example/c/b.zip");
    EXPECT_EQ(redact_url("https://user:pass@h/x#frag"), "https://h/x");
    EXPECT_EQ(redact_url("file:///tmp/a"), "file:///tmp/a");
    EXPECT_EQ(redact_url("http://h:8080/a@b"), "http://h:8080/a@b") << "an @ in the path is not a credential";
}

// Credentials holding '/', '?' or '#' (a base64 token, say) never show,
// not even in part. (Cutting at the first '/' or '?' once showed them.)
TEST(RedactUrl, CredentialsWithSlashQuestionMarkOrHash_NeverShowAnyPart) {
    for (const char *u : {"http://ci:c2Vj/dG9r+X==@host.example/a/b.zip", "http://ci:pa?ss@host.example/a",
                          "https://u:pa#ss@host.example/a?x", "http://u:p/a/s/s@host.example",
                          "http://ci:c2Vj/dG9r@host.example:8080/a?sig=1"}) {
        const std::string shown = redact_url(u);
        EXPECT_EQ(shown.find("c2Vj"), std::string::npos) << u << " -> " << shown;
        EXPECT_EQ(shown.find("pa"), std::string::npos) << u << " -> " << shown;
        EXPECT_EQ(shown.find("ss"), std::string::npos) << u << " -> " << shown;
        EXPECT_NE(shown.find("host.example"), std::string::npos) << u << " -> " << shown;
    }
    EXPECT_EQ(redact_url("http://u:p/a/s/s@host.example/x"), "http://host.example/x");
    EXPECT_EQ(redact_url("http://[::1]:8080/a"), "http://[::1]:8080/a");
    EXPECT_EQ(redact_url("http://h:notaport/x"), "http://h") << "no '@': the host only";
}

TEST(FileUrlPath, DecodesLikeCurl_RefusesOtherHostsAndOddForms) {
    EXPECT_EQ(file_url_path("file:///a/b.zip"), "/a/b.zip");
    EXPECT_EQ(file_url_path("file://localhost/a/b.zip"), "/a/b.zip");
    EXPECT_EQ(file_url_path("file:///with%20space/%41%62"), "/with space/Ab");
    EXPECT_EQ(file_url_path("file:///a/b.zip?ignored#too"), "/a/b.zip");
    EXPECT_EQ(file_url_path("file://server/share/b.zip"), std::nullopt) << "another host";
    EXPECT_EQ(file_url_path("file://relative"), std::nullopt);
    EXPECT_EQ(file_url_path("file:///a%00b"), std::nullopt) << "an encoded NUL";
    EXPECT_EQ(file_url_path("file:///a%zz"), std::nullopt);
    EXPECT_EQ(file_url_path("file:///a%2"), std::nullopt);
    EXPECT_EQ(file_url_path("http://x/a"), std::nullopt);
    EXPECT_EQ(file_url_path("file:/a"), std::nullopt);
}

}  // namespace
}  // namespace blobfetch

namespace blobfetch {
namespace {
// A name that leaves no room for blobfetch's suffixes is refused up front,
// naming the limit. (Names of 244-255 bytes once failed half way with "File
// name too long" on a suffixed name.)
TEST(PathSafety, FileNamesTooLongForTheSuffixes_AreRefusedUpFront) {
    EXPECT_TRUE(check_relative_path(std::string(kMaxBlobFileName, 'n')).ok());
    const Status s = check_relative_path("d/" + std::string(kMaxBlobFileName + 1, 'n'));
    EXPECT_EQ(s.code(), Errc::unsafe_path);
    EXPECT_NE(s.message().find("at most 212"), std::string::npos) << s.message();
    EXPECT_TRUE(check_relative_path(std::string(255, 'd') + "/f").ok()) << "a directory may use all 255 bytes";
    EXPECT_FALSE(check_relative_path(std::string(256, 'd') + "/f").ok());
}
}  // namespace
}  // namespace blobfetch
