// Nothing wrong is ever published, whatever the source does: publishing
// checks what actually arrived (never the preallocated length of the file),
// retries are bounded for every kind of piece, a complete chunk is complete.
#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path_safety.h"
#include "engine_fixture.h"

namespace blobfetch::test {
namespace {

// A local source that delivers fewer bytes than the descriptor's size is a
// verification error, also without a hash: /dev/null delivers none, a FIFO
// five of 4,096. (The preallocated 4,096 bytes once passed for the blob.)
TEST_F(EngineTest, LocalSourceDeliveringFewerBytes_IsNeverPublished_EvenWithoutAHash) {
    BlobSpec null_blob;
    null_blob.url = "file:///dev/null";
    null_blob.path = "cache/null.bin";
    null_blob.size = 4096;
    const std::string fifo = dir.path() + "/five-bytes.fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
    BlobSpec fifo_blob;
    fifo_blob.url = file_url(fifo);
    fifo_blob.path = "cache/fifo.bin";
    fifo_blob.size = 4096;
    std::thread writer([&] {
        const int fd = ::open(fifo.c_str(), O_WRONLY);  // blocks until the copy opens it
        if (fd >= 0) {
            (void)!::write(fd, "12345", 5);
            ::close(fd);
        }
    });
    FetchResult r = fetch({null_blob, fifo_blob});
    writer.join();
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(r.blobs[i].status.code(), Errc::verify) << i << ": " << r.blobs[i].status.message();
        EXPECT_NE(r.blobs[i].status.message().find("but the blob should have 4096"), std::string::npos)
            << r.blobs[i].status.message();
    }
    EXPECT_FALSE(fs::exists(final_path(null_blob)));
    EXPECT_FALSE(fs::exists(final_path(fifo_blob)));
    EXPECT_TRUE(leftovers().empty());
}

}  // namespace
}  // namespace blobfetch::test
