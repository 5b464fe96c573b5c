// Azure Blob Storage, for real: Azurite on 127.0.0.1, a container filled with
// blobs through an account SAS, fetched by the host through an x-azblob
// source: ranged reads, ETag checks, resume after a kill, 404 as a miss that
// falls through, 403 (a bad SAS) as a clear error with the token redacted.
#include <csignal>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "state/download_state.h"
#include "support/azurite.h"
#include "support/wait.h"
#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

class Azure : public ::testing::Test {
protected:
    void SetUp() override {
        if (AzuriteServer::binary().empty())
            GTEST_SKIP() << "azurite is not installed (bash .ci/deps.sh installs it from the npm registry)";
        m_azure = std::make_unique<AzuriteServer>();
        m_azure->create_container("vcpkg");
    }
    // Uploads a blob named <abi>.zip (vcpkg's x-azblob layout); returns its ETag.
    std::string put(TestArtifact &a) {
        const std::string file = m_dir / ("src-" + a.name);
        a.sha256 = write_blob(file, a.seed, a.size);
        return m_azure->upload("vcpkg", a.abi + ".zip", file);
    }
    std::string manifest(const std::vector<TestArtifact> &artifacts, const std::string &sources,
                         const nlohmann::json &options = nlohmann::json::object()) {
        nlohmann::json m = make_manifest("http://unused", m_dir / "cache", artifacts, options);
        m.erase("sources");
        m["binary_sources"] = sources;
        write_file(m_dir / "m.json", m.dump());
        return m_dir / "m.json";
    }
    std::string azblob(const std::string &sas) const { return "x-azblob," + m_azure->account_url() + "/vcpkg," + sas; }
    std::string cached(const TestArtifact &a) const { return m_dir / ("cache/" + a.relative_path()); }

    // Runs `blobfetch fetch manifest` and SIGKILLs it as soon as `sidecar`
    // records `chunks` chunks (or once it ended by itself).
    void kill_once_recorded(const std::string &manifest, const fs::path &sidecar, std::uint64_t chunks) {
        BackgroundProcess host({host_binary(), "fetch", manifest, "-q"}, {}, m_dir / "out", m_dir / "err");
        eventually(
            [&] {
                if (!host.running()) return true;
                auto st = load_download_state(sidecar);
                return st.ok() && st->chunks.completed() >= chunks;
            },
            std::chrono::seconds(60), std::chrono::milliseconds(1));
        host.signal(SIGKILL);
        host.wait();
    }

    TempDir m_dir;
    std::unique_ptr<AzuriteServer> m_azure;
};

TEST_F(Azure, XAzblobSource_RangedChunksByteExact_ThenSkipped) {
    std::vector<TestArtifact> artifacts{{"big", abi_key("az-big"), 51, 9 << 20, {}},
                                        {"small", abi_key("az-small"), 52, 1000, {}}};
    for (auto &a : artifacts) put(a);
    HostRun run = run_host_fetch(manifest(artifacts, azblob(m_azure->sas()), {{"chunk_size", 1 << 20}}), {"-vv"});
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    for (const auto &a : artifacts) EXPECT_EQ(sha256_file_hex(cached(a)), a.sha256) << a.name;
    EXPECT_EQ(run.json["blobs"][0]["bytes_downloaded"], 9 << 20);
    HostRun again = run_host_fetch(m_dir / "m.json");
    EXPECT_EQ(again.json["totals"]["bytes_downloaded"], 0);
}

TEST_F(Azure, ResumeAfterAKill_FetchesOnlyWhatWasNotRecorded_WithTheETag) {
    std::vector<TestArtifact> artifacts{{"huge", abi_key("az-huge"), 53, 96 << 20, {}}};
    const std::string etag = put(artifacts[0]);
    const std::string m = manifest(artifacts, azblob(m_azure->sas()), {{"chunk_size", 1 << 20}, {"concurrency", 1}});
    const fs::path sidecar = cached(artifacts[0]) + ".dlstate";
    kill_once_recorded(m, sidecar, 8);
    auto st = load_download_state(sidecar);
    if (!st.ok()) GTEST_SKIP() << "the download finished before it could be interrupted";
    const std::int64_t recorded = st->recorded_bytes();
    EXPECT_EQ(st->identity.etag, etag) << "the record keeps Azure's ETag";
    HostRun run = run_host_fetch(m);
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    EXPECT_EQ(sha256_file_hex(cached(artifacts[0])), artifacts[0].sha256);
    EXPECT_LE(run.json["blobs"][0]["bytes_downloaded"].get<std::int64_t>(), (96 << 20) - recorded + (1 << 20));
    EXPECT_EQ(run.json["blobs"][0]["bytes_skipped"].get<std::int64_t>(), recorded);
}

TEST_F(Azure, NotFoundIsAMissThatFallsThrough_BadSasIsAClearErrorWithTheTokenRedacted) {
    std::vector<TestArtifact> artifacts{{"elsewhere", abi_key("az-else"), 54, 4000, {}}};
    artifacts[0].sha256 = sha256_hex(blob_content(54, 4000));
    FaultServer mirror;
    mirror.add_blob("/" + artifacts[0].relative_path(), 54, 4000);
    HostRun fell = run_host_fetch(
        manifest(artifacts, azblob(m_azure->sas()) + ";http," + mirror.base_url() + "/{name}/{sha}.zip"));
    ASSERT_EQ(fell.process.exit_code, 0) << fell.process.err;
    EXPECT_NE(fell.json["blobs"][0]["sources_tried"][0].get<std::string>().find("HTTP 404"), std::string::npos)
        << fell.json["blobs"][0];
    EXPECT_EQ(sha256_file_hex(cached(artifacts[0])), artifacts[0].sha256);

    fs::remove_all(m_dir / "cache");
    put(artifacts[0]);
    const std::string bad = m_azure->bad_sas();
    HostRun denied = run_host_fetch(manifest(artifacts, azblob(bad)), {"-vv"});
    EXPECT_EQ(denied.process.exit_code, 1);
    const std::string all = denied.process.out + denied.process.err;
    EXPECT_NE(all.find("HTTP 403"), std::string::npos) << all;
    EXPECT_NE(all.find("access denied"), std::string::npos) << all;
    EXPECT_EQ(all.find("sig="), std::string::npos) << "the SAS never shows: " << all;
    EXPECT_EQ(all.find(bad.substr(bad.size() - 20)), std::string::npos) << all;
}

TEST_F(Azure, BlobReplacedBetweenRuns_TheNewETagRestartsItCleanly) {
    std::vector<TestArtifact> artifacts{{"moving", abi_key("az-moving"), 55, 24 << 20, {}}};
    put(artifacts[0]);
    // Size only, no hash: the ETag alone tells the versions apart.
    auto size_only = [&] {
        nlohmann::json m = nlohmann::json::parse(read_file(manifest(artifacts, azblob(m_azure->sas()),
                                                                    {{"chunk_size", 1 << 20}, {"concurrency", 1}})));
        m["artifacts"][0].erase("sha256");
        write_file(m_dir / "m.json", m.dump());
        return m_dir / "m.json";
    };
    const fs::path sidecar = cached(artifacts[0]) + ".dlstate";
    kill_once_recorded(size_only(), sidecar, 2);
    if (!load_download_state(sidecar).ok()) GTEST_SKIP() << "the download finished before it could be interrupted";
    artifacts[0].seed = 56;  // the blob is replaced: new bytes, new ETag, same size
    put(artifacts[0]);
    HostRun run = run_host_fetch(size_only(), {"-v"});
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    EXPECT_EQ(sha256_file_hex(cached(artifacts[0])), artifacts[0].sha256) << "entirely the new blob";
    EXPECT_NE(run.process.err.find("changed while blob"), std::string::npos) << run.process.err;
}

}  // namespace
}  // namespace blobfetch::test
