// Windows only: what DirHandle does at the OS boundary there (UTF-8 names
// reach Windows as UTF-16, paths beyond MAX_PATH work, a handle pins its
// directory, names with streams are refused).
#ifdef _WIN32
#include "io/dir_handle.h"

#include <fcntl.h>

#include <cstdlib>
#include <ctime>

#include <gtest/gtest.h>

#include "io/file.h"
#include "io/win32.h"
#include "support/process.h"

namespace blobfetch {
namespace {

TEST(DirHandleWin32, NonAsciiNames_RoundTripAsUtf8) {
    test::TempDir tmp;
    const std::string dir_name = "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac";  // "café-日本"
    auto root = DirHandle::open_root(path_from_utf8(tmp.path()), false);
    ASSERT_TRUE(root.ok()) << root.message();
    auto dir = DirHandle::open_beneath(*root, dir_name, /*create=*/true);
    ASSERT_TRUE(dir.ok()) << dir.message();
    UniqueFd fd = (*dir)->open("\xc3\xbc.bin", O_CREAT | O_RDWR, 0600);  // "ü.bin"
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_all_at(fd.get(), "abc", 3, 0, "u").ok());
    fd.reset();
    // Windows sees the very characters (UTF-16), not their UTF-8 bytes.
    const std::wstring expected = win32::long_path(path_from_utf8(tmp.path())) + L"\\caf\u00e9-\u65e5\u672c\\\u00fc.bin";
    EXPECT_NE(GetFileAttributesW(expected.c_str()), INVALID_FILE_ATTRIBUTES);
    EXPECT_EQ(path_to_utf8((*dir)->show("x")),
              path_to_utf8(path_from_utf8(tmp.path()) / path_from_utf8(dir_name) / "x"));
}

// stat() gives the link count, the times and the size, as fstatat does: gc
// reclaims x-script's staged assets by `st_nlink == 1` and their change
// time. (st_nlink was once never set, so they were never reclaimed.)
TEST(DirHandleWin32, Stat_GivesTheLinkCountTimesAndSize) {
    test::TempDir tmp;
    auto root = DirHandle::open_root(path_from_utf8(tmp.path()), false);
    ASSERT_TRUE(root.ok()) << root.message();
    const DirHandle &dir = **root;
    const std::time_t before = std::time(nullptr);
    UniqueFd fd = dir.open("asset", O_CREAT | O_RDWR, 0600);
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_all_at(fd.get(), "abcde", 5, 0, "asset").ok());
    fd.reset();
    struct stat st {};
    ASSERT_EQ(dir.stat("asset", st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_size, 5);
    EXPECT_EQ(st.st_nlink, 1);
    EXPECT_LE(std::llabs(static_cast<long long>(st.st_mtime - before)), 60);
    EXPECT_LE(std::llabs(static_cast<long long>(st.st_ctime - before)), 60);
    const std::wstring os = win32::long_path(path_from_utf8(tmp.path()));
    ASSERT_TRUE(CreateHardLinkW((os + L"\\placed").c_str(), (os + L"\\asset").c_str(), nullptr));
    ASSERT_EQ(dir.stat("asset", st), 0);
    EXPECT_EQ(st.st_nlink, 2) << "a second name";
    ASSERT_EQ(dir.unlink("placed"), 0);
    ASSERT_EQ(dir.stat("asset", st), 0);
    EXPECT_EQ(st.st_nlink, 1);
    EXPECT_EQ(dir.stat("missing", st), ENOENT);
    ASSERT_EQ(dir.stat("", st), EINVAL);
}

TEST(DirHandleWin32, PathsLongerThanMaxPath_Work) {
    test::TempDir tmp;
    std::string relative;
    for (int i = 0; i < 12; ++i) relative += (relative.empty() ? "" : "/") + std::string(30, static_cast<char>('a' + i));
    ASSERT_GT(tmp.path().size() + relative.size(), 300u);
    auto root = DirHandle::open_root(path_from_utf8(tmp.path()), false);
    ASSERT_TRUE(root.ok());
    auto dir = DirHandle::open_beneath(*root, relative, /*create=*/true);
    ASSERT_TRUE(dir.ok()) << dir.message();
    UniqueFd fd = (*dir)->open("blob.zip.tmp", O_CREAT | O_RDWR | O_EXCL, 0600);
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_all_at(fd.get(), "data", 4, 0, "blob").ok());
    fd.reset();
    ASSERT_EQ((*dir)->rename("blob.zip.tmp", "blob.zip"), 0);
    struct stat st {};
    ASSERT_EQ((*dir)->stat("blob.zip", st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_size, 4);
    EXPECT_TRUE((*dir)->still_at(**root, relative));
    EXPECT_EQ((*dir)->unlink("blob.zip"), 0);
    EXPECT_EQ((*dir)->stat("blob.zip", st), ENOENT);
}

TEST(DirHandleWin32, RenameReplacesAnExistingTarget) {
    test::TempDir tmp;
    auto root = DirHandle::open_root(path_from_utf8(tmp.path()), false);
    ASSERT_TRUE(root.ok());
    test::write_file(tmp / "new", "new");
    test::write_file(tmp / "old", "old");
    ASSERT_EQ((*root)->rename("new", "old"), 0);
    EXPECT_EQ(test::read_file(tmp / "old"), "new");
}

TEST(DirHandleWin32, NamesWithAStreamOrASeparator_AreRefused) {
    test::TempDir tmp;
    auto root = DirHandle::open_root(path_from_utf8(tmp.path()), false);
    ASSERT_TRUE(root.ok());
    for (const char *bad : {"a:stream", "a\\b", "a/b"}) {
        UniqueFd fd = (*root)->open(bad, O_CREAT | O_RDWR, 0600);
        EXPECT_FALSE(fd) << bad;
        EXPECT_EQ(errno, EINVAL) << bad;
    }
}

TEST(DirHandleWin32, AnOpenHandle_PinsItsDirectory) {
    test::TempDir tmp;
    auto root = DirHandle::open_root(path_from_utf8(tmp.path()), false);
    ASSERT_TRUE(root.ok());
    auto dir = DirHandle::open_beneath(*root, "d", /*create=*/true);
    ASSERT_TRUE(dir.ok());
    const std::wstring from = win32::long_path(path_from_utf8(tmp / "d"));
    const std::wstring to = win32::long_path(path_from_utf8(tmp / "moved"));
    EXPECT_FALSE(MoveFileExW(from.c_str(), to.c_str(), 0)) << "no one moves a directory that is open";
    dir->reset();
    EXPECT_TRUE(MoveFileExW(from.c_str(), to.c_str(), 0)) << "closed: it may move";
}

}  // namespace
}  // namespace blobfetch
#endif  // _WIN32
