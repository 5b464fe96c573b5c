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

namespace blobfetch {
namespace {
// The engine's own suffixes in any case: on a case-insensitive file system
// `BIG.BIN.DLSTATE` is big.bin's record (a blob of that name once made the
// engine delete it as that record), and the rule is the same everywhere.
TEST(PathSafety, RefusesTheEnginesOwnNames_InAnyCase) {
    for (const char *p : {"d/BIG.BIN.DLSTATE", "x.Part", "X.PART", "a/.DOWNLOAD.LOCK", ".Download.Lock",
                          "x.DlState.TMP", "tool.~BF12-3", "DIR.PART/x"}) {
        Status s = check_relative_path(p);
        EXPECT_EQ(s.code(), Errc::unsafe_path) << p;
        EXPECT_NE(s.message().find(p), std::string::npos) << s.message();
        EXPECT_NE(s.message().find("blobfetch uses"), std::string::npos) << s.message();
    }
    EXPECT_TRUE(check_relative_path("X.PARTS").ok());
}

TEST(PathSafety, WindowsNameReason_DeviceNamesInAnyCaseWithAnyExtension) {
    for (const char *n : {"CON", "con", "Aux", "NUL.txt", "nul.tar.gz", "PRN", "COM1", "com9.log", "LPT1", "lpt9",
                          "CONIN$", "NUL .txt"}) {
        const std::string why = windows_name_reason(n);
        EXPECT_NE(why.find("device name"), std::string::npos) << n << ": " << why;
    }
    for (const char *n : {"CONSOLE", "nul_", "COM0", "COM10", "LPT", "xcon", "auxiliary.txt", "a.con", "café"})
        EXPECT_EQ(windows_name_reason(n), "") << n;
}

TEST(PathSafety, WindowsNameReason_TrailingDotOrSpace_ForbiddenCharacters) {
    EXPECT_NE(windows_name_reason("trail.").find("'.'"), std::string::npos);
    EXPECT_NE(windows_name_reason("d ").find("a space"), std::string::npos);
    for (const char *n : {"a<b", "a>b", "a:b", "a\"b", "a|b", "a?b", "a*b", "a\tb", "a\x1f"})
        EXPECT_NE(windows_name_reason(n).find("Windows does not allow"), std::string::npos) << n;
    EXPECT_NE(windows_name_reason("a:b").find("alternate data stream"), std::string::npos);
    EXPECT_EQ(windows_name_reason(".hidden"), "");
    EXPECT_EQ(windows_name_reason("a b.c"), "");
}

#ifdef _WIN32
// Windows cannot hold these names as written: they are refused up front,
// naming the component and why. (`CON`, `NUL.txt`, `trail.` were once
// "published" where verify could not find them, and `d /x` failed half way
// with a misleading message, leaving files gc could not reclaim.)
TEST(PathSafety, Windows_RefusesNamesWindowsCannotHold) {
    for (const char *p : {"CON", "d/NUL.txt", "aux", "trail.", "d /x", "d/a:b", "d/a?b", "COM3/x"}) {
        const Status s = check_relative_path(p);
        EXPECT_EQ(s.code(), Errc::unsafe_path) << p;
        EXPECT_NE(s.message().find(std::string("destination path '") + p + "'"), std::string::npos) << s.message();
        EXPECT_NE(s.message().find("Windows"), std::string::npos) << s.message();
    }
    EXPECT_NE(check_relative_path("d /x").message().find("component 'd '"), std::string::npos);
}
#else
TEST(PathSafety, Posix_NamesWindowsCannotHoldAreFine) {
    for (const char *p : {"CON", "d/NUL.txt", "trail.", "d /x", "d/a:b"}) EXPECT_TRUE(check_relative_path(p).ok()) << p;
}
#endif

TEST(PathKey, FoldsAsciiCaseOnWindowsOnly) {
    EXPECT_EQ(fold_ascii_case("D/A.BIN-Café"), "d/a.bin-café");
    EXPECT_EQ(fold_ascii_case("\xC3\x89"), "\xC3\x89") << "UTF-8 bytes unchanged";
    EXPECT_EQ(path_key("D/A.Bin"), kNamesIgnoreCase ? "d/a.bin" : "D/A.Bin");
}

// Two descriptors whose cache paths differ only in case name one file on
// Windows: the later one is refused (naming both), the first proceeds; an
// exact duplicate is not a collision. (`d/a.bin` and `d/A.BIN` once made a
// fetch succeed with one of the two blobs wrong.)
TEST(PathKey, SpellingCollisions_TheLaterOfTwoSpellingsOnWindows) {
    const std::vector<std::string> paths{"d/a.bin", "d/A.BIN", "d/a.bin", "D/b", "d/b", "e/x"};
    const auto c = spelling_collisions(paths);
    ASSERT_EQ(c.size(), paths.size());
    const std::size_t none = paths.size();
    if (kNamesIgnoreCase) {
        EXPECT_EQ(c, (std::vector<std::size_t>{none, 0, none, none, 3, none}));
    } else {
        EXPECT_EQ(c, std::vector<std::size_t>(paths.size(), none));
    }
    const Status s = spelling_collision_error("d/A.BIN", "d/a.bin");
    EXPECT_EQ(s.code(), Errc::unsafe_path);
    for (const char *part : {"'d/A.BIN'", "'d/a.bin'", "case-insensitive", "nothing was written for 'd/A.BIN'"})
        EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
}
}  // namespace
}  // namespace blobfetch
