// The host's progress: a redrawn bar with bytes, speed and ETA on a terminal
// (coloured unless NO_COLOR is set), plain lines otherwise, nothing with -q.
#include <gtest/gtest.h>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"

namespace blobfetch::test {
namespace {

class Progress : public ::testing::Test {
protected:
    void SetUp() override {
        m_artifacts = {{"p", abi_key("p"), 41, 3 << 20, {}}};
        m_artifacts[0].sha256 = sha256_hex(blob_content(41, 3 << 20));
        m_server.add_blob("/" + m_artifacts[0].relative_path(), 41, 3 << 20);
        write_file(m_dir / "m.json", make_manifest(m_server.base_url(), m_dir / "cache", m_artifacts).dump());
    }
    // Runs the host under a pseudo-terminal (util-linux `script`).
    ProcessResult on_terminal(const std::map<std::string, std::optional<std::string>> &env) {
        ProcessOptions o;
        o.env = env;
        return run_process({"script", "-qfec", host_binary() + " fetch " + (m_dir / "m.json"), "/dev/null"}, o);
    }
    FaultServer m_server;
    TempDir m_dir;
    std::vector<TestArtifact> m_artifacts;
};

TEST_F(Progress, OnATerminal_ARedrawnColouredBarWithBytes_NoColorTurnsColourOff) {
    ProcessResult colour = on_terminal({{"TERM", "xterm"}, {"NO_COLOR", std::nullopt}});
    ASSERT_EQ(colour.exit_code, 0) << colour.out;
    EXPECT_NE(colour.out.find("\r\x1b[K["), std::string::npos) << "redrawn in place";
    EXPECT_NE(colour.out.find("\x1b[32m"), std::string::npos) << "coloured";
    EXPECT_NE(colour.out.find("100%  3.0 MiB / 3.0 MiB"), std::string::npos) << colour.out;

    std::filesystem::remove_all(m_dir / "cache");
    ProcessResult plain = on_terminal({{"TERM", "xterm"}, {"NO_COLOR", "1"}});
    ASSERT_EQ(plain.exit_code, 0) << plain.out;
    EXPECT_NE(plain.out.find("\r\x1b[K["), std::string::npos);
    EXPECT_EQ(plain.out.find("\x1b[32m"), std::string::npos) << "NO_COLOR is respected";
}

TEST_F(Progress, NotATerminal_PlainLines_Quiet_Nothing) {
    ProcessResult lines = run_process({host_binary(), "fetch", m_dir / "m.json"});
    ASSERT_EQ(lines.exit_code, 0) << lines.err;
    EXPECT_EQ(lines.err.find('\r'), std::string::npos) << "no redrawing into a pipe or a log";
    EXPECT_NE(lines.err.find("blobfetch: 100%"), std::string::npos) << lines.err;

    std::filesystem::remove_all(m_dir / "cache");
    ProcessResult quiet = run_process({host_binary(), "fetch", m_dir / "m.json", "-q"});
    ASSERT_EQ(quiet.exit_code, 0);
    EXPECT_TRUE(quiet.err.empty()) << quiet.err;
    EXPECT_TRUE(quiet.out.empty()) << quiet.out;
}

}  // namespace
}  // namespace blobfetch::test
