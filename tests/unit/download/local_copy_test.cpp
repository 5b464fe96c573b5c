// file:// blobs, copied by a worker: byte-exact copies, a
// missing file as a cache miss, sizes checked before anything is written, and
// a cancel that is seen even while a pipe has nothing to read.
#include <atomic>
#include <chrono>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "download/local_copy.h"
#include "support/blob_content.h"
#include "support/process.h"
#include "support/wait.h"

namespace blobfetch {
namespace {

using test::blob_content;
using test::TempDir;

class LocalCopy : public ::testing::Test {
protected:
    std::string make(const std::string &name, std::size_t size) {
        const std::string path = dir / name;
        test::write_file(path, blob_content(5, size));
        return path;
    }
    TempDir dir;
    MemoryWriter out;
    CancellationSource cancel;
};

TEST_F(LocalCopy, CopiesByteExact_ReportingEveryPiece) {
    const std::size_t size = (3 << 20) + 12345;  // several 1 MiB pieces and a short one
    const std::string path = make("blob.bin", size);
    std::int64_t reported = 0;
    auto r = copy_local_file("file://" + path, "src", out, static_cast<std::int64_t>(size), 1 << 30, cancel.token(),
                             [&](std::int64_t n) { reported += n; });
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(*r, static_cast<std::int64_t>(size));
    EXPECT_EQ(reported, static_cast<std::int64_t>(size));
    EXPECT_TRUE(out.contents() == blob_content(5, size));

    MemoryWriter empty_out;
    const std::string empty = make("empty.bin", 0);
    auto e = copy_local_file("file://" + empty, "src", empty_out, -1, 1 << 30, cancel.token(), {});
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(*e, 0);
}

TEST_F(LocalCopy, MissingFileOrADirectory_IsACacheMiss) {
    auto r = copy_local_file("file://" + (dir / "nope.bin"), "file:///nope.bin", out, 10, 1 << 30, cancel.token(), {});
    ASSERT_EQ(r.status().code(), Errc::not_found) << r.message();
    EXPECT_NE(r.message().find("file:///nope.bin"), std::string::npos) << r.message();
    auto d = copy_local_file("file://" + dir.path(), "dir", out, -1, 1 << 30, cancel.token(), {});
    EXPECT_EQ(d.status().code(), Errc::not_found) << d.message();
}

TEST_F(LocalCopy, WrongOrTooLargeSize_RefusedBeforeWritingAnything) {
    const std::string path = make("blob.bin", 5000);
    auto wrong = copy_local_file("file://" + path, "src", out, 4000, 1 << 30, cancel.token(), {});
    ASSERT_EQ(wrong.status().code(), Errc::verify) << wrong.message();
    EXPECT_NE(wrong.message().find("has 5000 bytes but the blob should have 4000"), std::string::npos)
        << wrong.message();
    auto big = copy_local_file("file://" + path, "src", out, -1, 4096, cancel.token(), {});
    ASSERT_EQ(big.status().code(), Errc::verify) << big.message();
    EXPECT_NE(big.message().find("max_blob_size"), std::string::npos) << big.message();
    EXPECT_EQ(out.size().value(), 0) << "nothing was written";
}

// A pipe (a source on a stalled share behaves alike) that never delivers:
// the copy notices the cancel within its 100 ms slices.
TEST_F(LocalCopy, PipeWithNothingToRead_CancelIsSeenPromptly) {
    const std::string fifo = dir / "pipe";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // a writer that stays silent
    ASSERT_GE(writer, 0);
    ASSERT_EQ(::write(writer, "abc", 3), 3);
    std::atomic<bool> done{false};
    Expected<std::int64_t> result = Status(Errc::internal, "not run");
    std::atomic<std::int64_t> reported{0};
    std::thread t([&] {
        result = copy_local_file("file://" + fifo, "pipe", out, -1, 1 << 30, cancel.token(),
                                 [&](std::int64_t n) { reported += n; });
        done = true;
    });
    EXPECT_TRUE(test::eventually([&] { return reported.load() == 3; })) << "the bytes that came were copied";
    EXPECT_FALSE(done.load());
    const auto t0 = std::chrono::steady_clock::now();
    cancel.cancel();
    EXPECT_TRUE(test::eventually([&] { return done.load(); }, std::chrono::seconds(5)));
    t.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_EQ(result.status().code(), Errc::cancelled) << result.message();
    ::close(writer);
}

}  // namespace
}  // namespace blobfetch
