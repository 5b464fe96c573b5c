// Secrets stay with their origin, through the real host and plugin: a
// manifest source's headers reach that source only, an artifact's own "url"
// at another origin gets none of them, and neither does a redirect target on
// another host. Two fault servers on one port, 127.0.0.1 and 127.0.0.2, record
// every header they see.
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"

namespace blobfetch::test {
namespace {

class Origins : public ::testing::Test {
protected:
    void SetUp() override {
        try {
            m_other = std::make_unique<FaultServer>("127.0.0.2", m_home.port());
        } catch (const std::exception &e) {
            GTEST_SKIP() << "no second loopback origin: " << e.what();
        }
    }

    nlohmann::json artifact(const std::string &name, std::uint64_t seed, std::int64_t size) {
        return {{"name", name},
                {"sha", abi_key(name)},
                {"size", size},
                {"sha256", sha256_hex(blob_content(seed, static_cast<std::size_t>(size)))}};
    }
    std::string cached(const std::string &name) const {
        return m_dir / ("cache/" + name + "/" + abi_key(name) + ".zip");
    }
    // No request `server` saw carries any of the secrets.
    static void expect_no_secret(const FaultServer &server) {
        for (const auto &q : server.requests()) {
            EXPECT_EQ(header(q, "Authorization"), "") << q.path;
            EXPECT_EQ(header(q, "X-JFrog-Art-Api"), "") << q.path;
            EXPECT_EQ(q.headers.find("team-token"), std::string::npos) << q.headers;
        }
    }

    TempDir m_dir;
    FaultServer m_home;  // the team cache on 127.0.0.1
    std::unique_ptr<FaultServer> m_other;
};

TEST_F(Origins, ArtifactUrlOverrideAtAnotherOrigin_GetsNoSourceHeader_RedirectTargetsNeither) {
    const auto pin = [](const std::string &name) { return "/" + name + "/" + abi_key(name) + ".zip"; };
    m_home.add_blob(pin("home"), 1, 300000);
    m_other->add_blob("/mirror/elsewhere.bin", 2, 200000);
    m_other->add_blob(pin("moved"), 3, 250000);
    m_home.add_redirect(pin("moved"), m_other->base_url() + pin("moved"));

    nlohmann::json m;
    m["version"] = 1;
    m["cache_dir"] = m_dir / "cache";
    m["sources"] = {{{"name", "team"},
                     {"url", m_home.base_url() + "/{name}/{sha}.zip"},
                     {"headers", {"Authorization: Bearer team-token", "X-JFrog-Art-Api: team-token"}}}};
    m["options"] = {{"chunk_size", 65536}};
    auto elsewhere = artifact("elsewhere", 2, 200000);
    elsewhere["url"] = m_other->base_url() + "/mirror/elsewhere.bin";
    m["artifacts"] = {artifact("home", 1, 300000), elsewhere, artifact("moved", 3, 250000)};
    write_file(m_dir / "m.json", m.dump());

    HostRun run = run_host_fetch(m_dir / "m.json", {"-vv"});
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    EXPECT_EQ(sha256_file_hex(cached("home")), sha256_hex(blob_content(1, 300000)));
    EXPECT_EQ(sha256_file_hex(cached("elsewhere")), sha256_hex(blob_content(2, 200000)));
    EXPECT_EQ(sha256_file_hex(cached("moved")), sha256_hex(blob_content(3, 250000)));
    // Home got its headers; the other origin, asked directly and through a redirect, none.
    bool home_had_token = false;
    for (const auto &q : m_home.requests()) home_had_token |= header(q, "Authorization") == "Bearer team-token";
    EXPECT_TRUE(home_had_token);
    ASSERT_GE(m_other->requests().size(), 2u);
    expect_no_secret(*m_other);
    EXPECT_EQ(run.process.err.find("team-token"), std::string::npos) << "never shown either";
}

}  // namespace
}  // namespace blobfetch::test
