// Memory does not grow with the chunk size: bytes flow from libcurl through a
// fixed per-transfer buffer straight to positional writes.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "support/blob_content.h"
#include "support/fixture.h"
#include "support/nginx.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BLOBFETCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BLOBFETCH_SANITIZED 1
#endif
#endif

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

TEST(Memory, PeakRssOfA1GiBFetchWith64Connections_IsTheSameFor1And16MiBChunks_AndUnder32MiB) {
#ifdef BLOBFETCH_SANITIZED
    GTEST_SKIP() << "sanitizers change the memory footprint; this test runs in the normal build";
#endif
    if (!nginx_available()) GTEST_SKIP() << "nginx is not installed";
    TempDir dir;
    std::vector<TestArtifact> artifacts{{"gig", abi_key("gig"), 55, std::uint64_t{1} << 30, {}}};
    serve_artifacts(dir / "www", artifacts);
    NginxServer nginx(NginxOptions{dir / "www", "", ""});
    const std::string cached = dir / ("cache/" + artifacts[0].relative_path());

    long rss[2] = {0, 0};
    const std::int64_t chunks[2] = {1 << 20, 16 << 20};
    for (int i = 0; i < 2; ++i) {
        SCOPED_TRACE(chunks[i]);
        fs::remove_all(dir / "cache");
        write_file(dir / "m.json", make_manifest(nginx.base_url(), dir / "cache", artifacts,
                                                 {{"concurrency", 64}, {"chunk_size", chunks[i]}})
                                       .dump());
        HostRun run = run_host_fetch(dir / "m.json", {"-q"});
        ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
        ASSERT_EQ(fs::file_size(cached), std::uint64_t{1} << 30);
        rss[i] = run.process.max_rss_kib;
    }
    EXPECT_EQ(sha256_file_hex(cached), artifacts[0].sha256);
    RecordProperty("peak_rss_kib_1MiB_chunks", static_cast<int>(rss[0]));
    RecordProperty("peak_rss_kib_16MiB_chunks", static_cast<int>(rss[1]));
    EXPECT_LE(std::labs(rss[0] - rss[1]), 2048) << rss[0] << " KiB vs " << rss[1] << " KiB";
    EXPECT_LT(rss[0], 32 * 1024) << "KiB";
    EXPECT_LT(rss[1], 32 * 1024) << "KiB";
}

}  // namespace
}  // namespace blobfetch::test
