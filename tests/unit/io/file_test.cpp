#include "io/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/blob_content.h"
#include "support/process.h"

namespace blobfetch {
namespace {

TEST(File, WriteAllAt_ConcurrentDisjointRangesAreByteExact) {
    test::TempDir dir;
    const std::string path = dir / "f";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd);
    constexpr std::size_t kPiece = 256 * 1024, kThreads = 8;
    const std::string content = test::blob_content(5, kPiece * kThreads);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            // Each thread writes its range in uneven slices, back to front.
            for (std::size_t end = kPiece; end > 0;) {
                std::size_t len = std::min<std::size_t>(end, 1000 + t * 37);
                std::size_t off = t * kPiece + end - len;
                EXPECT_TRUE(write_all_at(fd.get(), content.data() + off, len, static_cast<std::int64_t>(off), path).ok());
                end -= len;
            }
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(test::read_file(path), content);
}

TEST(File, WriteAllAt_ErrorNamesTheFile) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    Status s = write_all_at(fd.get(), "x", 1, 0, "/some/blob.zip");
    EXPECT_EQ(s.code(), Errc::io);
    EXPECT_NE(s.message().find("/some/blob.zip"), std::string::npos);
}

TEST(File, PublishFile_ReplacesTheTargetAtomically) {
    test::TempDir dir;
    test::write_file(dir / "tmp", "new");
    test::write_file(dir / "final", "old");
    ASSERT_TRUE(publish_file(dir / "tmp", dir / "final").ok());
    EXPECT_EQ(test::read_file(dir / "final"), "new");
    EXPECT_FALSE(std::filesystem::exists(dir / "tmp"));
    Status missing = publish_file(dir / "nope", dir / "final");
    EXPECT_EQ(missing.code(), Errc::io);
    EXPECT_NE(missing.message().find("nope"), std::string::npos);
}

TEST(File, UniqueFd_MoveTransfersOwnership) {
    UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    int raw = a.get();
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
    UniqueFd c;
    c = std::move(b);
    EXPECT_EQ(c.get(), raw);
}

}  // namespace
}  // namespace blobfetch
