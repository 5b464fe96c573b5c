#include "io/positional_writer.h"

#include <cerrno>
#include <filesystem>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "support/blob_content.h"
#include "support/process.h"

namespace blobfetch {
namespace {

namespace fs = std::filesystem;

// The same contract is checked against the real file and the test double.
class WriterContract : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        if (GetParam()) {
            auto w = open_positional_writer(m_dir / "data.part");
            ASSERT_TRUE(w.ok()) << w.message();
            m_writer = std::move(*w);
        } else {
            m_writer = std::make_unique<MemoryWriter>();
        }
    }
    std::string read_all() {
        auto n = m_writer->size();
        EXPECT_TRUE(n.ok());
        std::string s(static_cast<std::size_t>(*n), '\0');
        auto got = m_writer->read_at(s.data(), s.size(), 0);
        EXPECT_TRUE(got.ok());
        s.resize(*got);
        return s;
    }
    test::TempDir m_dir;
    std::unique_ptr<IPositionalWriter> m_writer;
};

TEST_P(WriterContract, ConcurrentDisjointWrites_AreByteExact) {
    constexpr std::size_t kPiece = 192 * 1024 + 7, kThreads = 16;
    const std::string content = test::blob_content(11, kPiece * kThreads);
    ASSERT_TRUE(m_writer->preallocate(static_cast<std::int64_t>(content.size())).ok());
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            // Uneven slices, back to front, so writes interleave across threads.
            for (std::size_t end = kPiece; end > 0;) {
                std::size_t len = std::min<std::size_t>(end, 4096 + t * 131);
                std::size_t off = t * kPiece + end - len;
                ASSERT_TRUE(m_writer->write_at(content.data() + off, len, static_cast<std::int64_t>(off)).ok());
                end -= len;
            }
        });
    for (auto &th : threads) th.join();
    EXPECT_TRUE(read_all() == content) << "every byte lands at its offset";
    EXPECT_TRUE(m_writer->sync().ok());
}

TEST_P(WriterContract, Preallocate_KeepsBytesAlreadyWritten) {
    ASSERT_TRUE(m_writer->write_at("resume-me", 9, 4096).ok());
    ASSERT_TRUE(m_writer->preallocate(1 << 20).ok());
    EXPECT_EQ(*m_writer->size(), 1 << 20);
    char buf[9];
    ASSERT_EQ(*m_writer->read_at(buf, 9, 4096), 9u);
    EXPECT_EQ(std::string(buf, 9), "resume-me");
    ASSERT_TRUE(m_writer->preallocate(1 << 20).ok()) << "preallocating the same size again is harmless";
    ASSERT_EQ(*m_writer->read_at(buf, 9, 4096), 9u);
    EXPECT_EQ(std::string(buf, 9), "resume-me");
}

TEST_P(WriterContract, ReadAt_StopsAtTheEnd) {
    ASSERT_TRUE(m_writer->write_at("abcdef", 6, 0).ok());
    char buf[16];
    EXPECT_EQ(*m_writer->read_at(buf, sizeof buf, 2), 4u);
    EXPECT_EQ(*m_writer->read_at(buf, sizeof buf, 6), 0u);
}

INSTANTIATE_TEST_SUITE_P(RealAndMemory, WriterContract, ::testing::Values(true, false),
                         [](const auto &info) { return info.param ? "PosixFile" : "Memory"; });

int unsupported(int, std::int64_t, std::int64_t) {
    errno = EOPNOTSUPP;
    return -1;
}
int disk_full(int, std::int64_t, std::int64_t) {
    errno = ENOSPC;
    return -1;
}

TEST(PositionalWriter, PreallocateFallback_FileSystemWithoutFallocateGetsTheSizeSparsely) {
    test::TempDir dir;
    auto w = open_positional_writer(dir / "f.part", unsupported);
    ASSERT_TRUE(w.ok()) << w.message();
    ASSERT_TRUE((*w)->write_at("x", 1, 0).ok());
    Status s = (*w)->preallocate(64 << 20);
    ASSERT_TRUE(s.ok()) << s.message();
#ifndef _WIN32
    struct stat st {};
    ASSERT_EQ(::stat((dir / "f.part").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 64 << 20);
    EXPECT_LT(st.st_blocks * 512, 1 << 20) << "ftruncate only sets the size (sparse)";
#else
    EXPECT_EQ(fs::file_size(dir / "f.part"), std::uintmax_t{64} << 20);  // (NTFS: no sparse file unless asked)
#endif
    char c = 0;
    ASSERT_EQ(*(*w)->read_at(&c, 1, 0), 1u);
    EXPECT_EQ(c, 'x');
}

TEST(PositionalWriter, PreallocateFallback_RefusesWhenTheDiskLacksTheSpace) {
    test::TempDir dir;
    auto w = open_positional_writer(dir / "huge.part", unsupported);
    ASSERT_TRUE(w.ok());
    Status s = (*w)->preallocate(std::int64_t{1} << 55);  // 32 PiB
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("not enough disk space"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("huge.part"), std::string::npos) << s.message();
    EXPECT_EQ(*(*w)->size(), 0) << "nothing was changed";
}

TEST(PositionalWriter, Preallocate_FullDiskIsAClearErrorBeforeAnyTransfer) {
    test::TempDir dir;
    auto w = open_positional_writer(dir / "full.part", disk_full);
    ASSERT_TRUE(w.ok());
    Status s = (*w)->preallocate(1 << 20);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Errc::io);
    EXPECT_NE(s.message().find("not enough disk space for '"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("free"), std::string::npos) << s.message();
    EXPECT_EQ(*(*w)->size(), 0);
}

#ifndef _WIN32  // (POSIX links; Windows: DirHandleWin32 tests and the directory case below)
TEST(PositionalWriter, Open_RefusesASymlinkAndADirectory) {
    test::TempDir dir;
    test::write_file(dir / "target", "t");
    fs::create_symlink(dir / "target", dir / "link.part");
    auto link = open_positional_writer(dir / "link.part");
    ASSERT_FALSE(link.ok());
    EXPECT_NE(link.message().find("symbolic link"), std::string::npos) << link.message();
    EXPECT_EQ(test::read_file(dir / "target"), "t");
    fs::create_directory(dir / "d.part");
    EXPECT_FALSE(open_positional_writer(dir / "d.part").ok());
}
#else
TEST(PositionalWriter, Open_RefusesADirectory) {
    test::TempDir dir;
    fs::create_directory(dir / "d.part");
    auto w = open_positional_writer(dir / "d.part");
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.message().find("not a regular file"), std::string::npos) << w.message();
}
#endif

}  // namespace
}  // namespace blobfetch
