// The unit of mutual exclusion between processes is the blob, not its
// directory (vcpkg keeps every asset in one downloads/ directory): real host
// processes, one cache directory, a server that holds one blob's response.
// (A 5 MiB download once waited 17 s behind an unrelated 300 MiB one, with
// no message.)
#include <csignal>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"
#include "support/wait.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class BlobLocks : public ::testing::Test {
protected:
    std::string manifest(const std::string &file, const std::string &name, std::uint64_t size) {
        nlohmann::json m;
        m["version"] = 1;
        m["cache_dir"] = m_dir / "cache";
        m["cache_path"] = "downloads/{name}";
        m["sources"] = {{{"url", m_server.base_url() + "/{name}"}}};
        m["artifacts"] = {{{"name", name}, {"sha", "k"}, {"size", size}}};
        const std::string path = m_dir / file;
        write_file(path, m.dump());
        return path;
    }
    std::unique_ptr<BackgroundProcess> start(const std::string &manifest_path, const std::string &name) {
        return std::make_unique<BackgroundProcess>(
            std::vector<std::string>{host_binary(), "fetch", manifest_path, "-v", "--no-progress"}, ProcessOptions{},
            m_dir / (name + ".out"), m_dir / (name + ".err"));
    }
    std::string err(const std::string &name) const { return read_file(m_dir / (name + ".err")); }

    TempDir m_dir;
    FaultServer m_server;
};

TEST_F(BlobLocks, AnUnrelatedBlobOfTheSameDirectory_NeverWaits_TheSameBlobWaitsAndSaysForWhom) {
    constexpr std::uint64_t kBig = 8 << 20, kSmall = 1 << 20;
    m_server.add_blob("/big", 81, kBig);
    m_server.add_blob("/small", 82, kSmall);
    // The first response for the big blob stops after 64 KiB and stays open:
    // its fetch holds the blob's lock for as long as the test wants.
    FaultRule stall;
    stall.path = "/big";
    stall.fault.kind = FaultKind::stall;
    stall.fault.after_bytes = 64 << 10;
    m_server.add_rule(stall);
    auto holder = start(manifest("big.json", "big", kBig), "holder");
    ASSERT_TRUE(eventually([&] { return fs::exists(m_dir / "cache/downloads/big.part"); }, 20s)) << err("holder");

    // Another blob of the same directory: done while the big one is held.
    auto small = start(manifest("small.json", "small", kSmall), "small");
    ASSERT_TRUE(eventually([&] { return !small->running(); }, 20s))
        << "waited behind an unrelated blob:\n" << err("small");
    EXPECT_EQ(small->wait(), 0) << err("small");
    EXPECT_TRUE(holder->running()) << "the big blob was still held meanwhile";
    EXPECT_TRUE(read_file(m_dir / "cache/downloads/small") == blob_content(82, kSmall));
    EXPECT_EQ(err("small").find("waiting for"), std::string::npos) << err("small");

    // status names who fetches it, looking only.
    ProcessResult status = run_process({host_binary(), "status", m_dir / "cache", "--json"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    auto doc = nlohmann::json::parse(status.out);
    ASSERT_FALSE(doc["unfinished"].empty()) << status.out;
    for (const auto &e : doc["unfinished"])
        EXPECT_EQ(e["in_progress_by"].get<std::string>().rfind("PID " + std::to_string(holder->pid()) + " (since ", 0),
                  0u)
            << status.out;

    // The same blob: waits, and says for what and for whom.
    auto second = start(manifest("big2.json", "big", kBig), "second");
    const std::string expected = "waiting for 'downloads/big', held by PID " + std::to_string(holder->pid());
    ASSERT_TRUE(eventually([&] { return err("second").find(expected) != std::string::npos; }, 20s)) << err("second");
    EXPECT_NE(err("second").find("fetching 'big'"), std::string::npos) << err("second");
    holder->signal(SIGKILL);
    holder->wait();
    ASSERT_EQ(second->wait(), 0) << err("second");
    EXPECT_TRUE(read_file(m_dir / "cache/downloads/big") == blob_content(81, kBig));
}

}  // namespace
}  // namespace blobfetch::test
