// A disk that fails a sync once: the real host runs under an LD_PRELOAD shim
// (tests/support/tools/fail_sync.c) that makes the N-th fsync/fdatasync of
// the process fail with EIO and drops the pages written to that file since
// its last sync, as Linux does after a writeback error (the error is
// reported once, a later sync "succeeds"). For every N up to the number of
// syncs a 40 MiB fetch makes: the fetch ends with a non-zero exit or a
// correct file, never a published wrong file, and the next run (without the
// shim) publishes the right file. A failed data sync is survived (the blob is
// fetched again into a fresh file: exit 0); only the directory's sync after
// the rename is reported (the file is right; its name may not survive a
// power loss). The descriptor has no hash, so only the
// engine's own care stands between dropped pages and a published file.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kSize = 40ull << 20;
constexpr std::uint64_t kSeed = 77;

class SyncFailure : public ::testing::TestWithParam<const char *> {
protected:
    void SetUp() override {
        m_server.add_blob("/blob", kSeed, kSize);
        m_expected = sha256_hex(blob_content(kSeed, kSize));
    }

    // Runs a fetch into a fresh cache `name`; with n > 0 under the shim
    // failing the n-th sync. Returns the host's exit code; `syncs` gets the
    // number of syncs the process made.
    int fetch(const std::string &cache, int n, int *syncs = nullptr, std::string *err = nullptr) {
        nlohmann::json m;
        m["version"] = 1;
        m["cache_dir"] = cache;
        m["sources"] = {{{"url", m_server.base_url() + "/blob"}}};
        m["options"] = {{"durability", GetParam()}, {"retries", 1}};
        m["artifacts"] = {{{"name", "blob"}, {"sha", abi_key("blob")}, {"size", kSize}}};  // no hash: size only
        write_file(m_dir / "m.json", m.dump());
        const std::string log = m_dir / "sync.log";
        fs::remove(log);
        ProcessOptions po;
        if (n >= 0) {
            po.env["LD_PRELOAD"] = bin_dir() + "/libblobfetch_fail_sync.so";
            if (n > 0) po.env["BLOBFETCH_FAIL_SYNC_N"] = std::to_string(n);
            po.env["BLOBFETCH_SYNC_LOG"] = log;
            const char *asan = std::getenv("ASAN_OPTIONS");
            po.env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "verify_asan_link_order=0";
        }
        ProcessResult r = run_process({host_binary(), "fetch", m_dir / "m.json", "--no-progress"}, po);
        if (err) *err = r.err + read_file(log);
        if (syncs) {
            *syncs = static_cast<int>(number_after(read_file(log), "syncs="));
        }
        return r.exit_code;
    }
    std::string published(const std::string &cache) const {
        const std::string f = cache + "/blob/" + abi_key("blob") + ".zip";
        return fs::exists(f) ? sha256_file_hex(f) : std::string();
    }

    FaultServer m_server;
    TempDir m_dir;
    std::string m_expected;
};

TEST_P(SyncFailure, EveryNthSyncFailingOnce_NeverAPublishedWrongFile_TheNextRunIsRight) {
    int syncs = 0;
    ASSERT_EQ(fetch(m_dir / "count", 0, &syncs), 0);
    ASSERT_EQ(published(m_dir / "count"), m_expected);
    // Strict syncs at checkpoints and publishes; relaxed at least before the
    // rename (a file under its final name is always on disk).
    ASSERT_GE(syncs, 1) << "a publish without any sync";
    std::printf("a 40 MiB fetch (%s) makes %d syncs; each one fails in turn\n", GetParam(), syncs);
    for (int n = 1; n <= syncs + 1; ++n) {
        SCOPED_TRACE("sync #" + std::to_string(n) + " of " + std::to_string(syncs) + " fails");
        const std::string cache = m_dir / ("c" + std::to_string(n));
        std::string err;
        const int rc = fetch(cache, n, nullptr, &err);
        const std::string got = published(cache);
        EXPECT_TRUE(got.empty() || got == m_expected) << "a published wrong file\n" << err;
        if (rc == 0) {
            EXPECT_EQ(got, m_expected) << err;
        } else {
            // Only a failed sync of the directory after the rename is worth
            // an error: the file is right, its name may not survive a power loss.
            EXPECT_NE(err.find("failed_sync=" + std::to_string(n) + " fd_kind=dir"), std::string::npos) << err;
            EXPECT_NE(err.find("is published with the right bytes"), std::string::npos) << err;
            EXPECT_EQ(got, m_expected) << err;
        }
        if (n <= syncs) {
            EXPECT_NE(err.find("failed_sync=" + std::to_string(n)), std::string::npos) << err;
        }
        // The next run, on a healthy disk, ends with the right file.
        ASSERT_EQ(fetch(cache, -1), 0);
        EXPECT_EQ(published(cache), m_expected);
        for (const auto &e : fs::recursive_directory_iterator(cache)) {
            const std::string name = e.path().filename().string();
            EXPECT_FALSE(name.ends_with(".part") || name.ends_with(".dlstate")) << "left behind: " << e.path();
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Durability, SyncFailure, ::testing::Values("strict", "relaxed"),
                         [](const ::testing::TestParamInfo<const char *> &info) { return std::string(info.param); });

}  // namespace
}  // namespace blobfetch::test
