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

// An artifact's values are data: "${env:TOKEN}" in a name is sent
// percent-encoded, never expanded, so the token the source's header uses
// reaches no request path, no message and no --json. (The name
// "zlib${env:TOKEN}" once put the token into the request path, stderr and
// three fields of --json.)
TEST_F(Origins, EnvReferenceInAnArtifactsName_NeverPutsTheTokenInARequestOrAnOutput) {
    const std::string name = "zlib${env:TOKEN}";
    const std::string sent = "/zlib%24%7Benv%3ATOKEN%7D/" + abi_key(name) + ".zip";
    m_home.add_blob(sent, 4, 100000);
    nlohmann::json m;
    m["version"] = 1;
    m["cache_dir"] = m_dir / "cache";
    m["sources"] = {{{"name", "team"},
                     {"url", m_home.base_url() + "/{name}/{sha}.zip"},
                     {"headers", {"Authorization: Bearer ${env:TOKEN}"}}}};
    m["artifacts"] = {artifact(name, 4, 100000)};
    write_file(m_dir / "m.json", m.dump());
    ProcessOptions env;
    env.env["TOKEN"] = "team-token";

    HostRun run = run_host_fetch(m_dir / "m.json", {"-vv"}, env);
    EXPECT_EQ(run.process.exit_code, 0) << run.process.err;
    ASSERT_FALSE(m_home.requests().empty());
    for (const auto &q : m_home.requests()) {
        EXPECT_EQ(q.path, sent);
        EXPECT_EQ(q.path.find("team-token"), std::string::npos) << q.path;
        EXPECT_EQ(header(q, "Authorization"), "Bearer team-token") << "the template's own reference is expanded";
    }
    EXPECT_EQ(run.process.out.find("team-token"), std::string::npos) << run.process.out;
    EXPECT_EQ(run.process.err.find("team-token"), std::string::npos) << run.process.err;
    ASSERT_FALSE(run.json.is_null()) << run.process.out;
    EXPECT_EQ(run.json.dump().find("team-token"), std::string::npos) << run.json.dump();
    EXPECT_EQ(sha256_file_hex(cached(name)), sha256_hex(blob_content(4, 100000)));
}

// The server is the source's to choose: a template that puts a value into
// its host part ("127.0.0.{version}") would let an artifact's version "2"
// send the request, with the team's token, to 127.0.0.2. Refused as bad
// input naming the artifact and the source; no server is asked anything.
TEST_F(Origins, AValueInATemplatesHostPart_NeverMovesTheRequestOrItsHeaders) {
    const std::string pin = "/moved/" + abi_key("moved") + ".zip";
    m_home.add_blob(pin, 5, 50000);
    m_other->add_blob(pin, 5, 50000);
    nlohmann::json m;
    m["version"] = 1;
    m["cache_dir"] = m_dir / "cache";
    m["sources"] = {{{"name", "team"},
                     {"url", "http://127.0.0.{version}:" + std::to_string(m_home.port()) + "/{name}/{sha}.zip"},
                     {"headers", {"Authorization: Bearer team-token"}}}};
    auto moved = artifact("moved", 5, 50000);
    moved["version"] = "2";
    m["artifacts"] = {moved};
    write_file(m_dir / "m.json", m.dump());

    HostRun run = run_host_fetch(m_dir / "m.json");
    EXPECT_EQ(run.process.exit_code, 2) << run.process.err;
    EXPECT_NE(run.process.err.find("'moved'"), std::string::npos) << "names the artifact: " << run.process.err;
    EXPECT_NE(run.process.err.find("team"), std::string::npos) << "names the source: " << run.process.err;
    EXPECT_TRUE(m_other->requests().empty()) << "the request went to the value's server";
    expect_no_secret(*m_other);
    EXPECT_TRUE(m_home.requests().empty());
    EXPECT_EQ(run.process.err.find("team-token"), std::string::npos);
}

}  // namespace
}  // namespace blobfetch::test
