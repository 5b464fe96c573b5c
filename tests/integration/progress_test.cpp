// The host's progress: a redrawn bar with bytes, speed and ETA on a terminal
// (coloured unless NO_COLOR is set), plain lines otherwise, nothing with -q.
#include <cstdio>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

// A blob whose size the manifest does not give: the size the server tells
// joins the total, so the last line is "4.0 MiB / 4.0 MiB" (it once ended at
// "100%  4.0 MiB / 1.0 MiB", and a set of unknown sizes at "/ ?"). No line
// ever shows more done than the total.
TEST_F(Progress, SizesLearnedFromTheServer_AreInTheTotal_DoneNeverExceedsIt) {
    std::vector<TestArtifact> artifacts{m_artifacts[0], {"q", abi_key("q"), 42, 1 << 20, {}}};
    m_server.add_blob("/" + artifacts[1].relative_path(), 42, 1 << 20);
    artifacts[1].sha256 = sha256_hex(blob_content(42, 1 << 20));
    nlohmann::json mixed = make_manifest(m_server.base_url(), m_dir / "cache", artifacts);
    mixed["artifacts"][0].erase("size");  // the 3 MiB one
    nlohmann::json unknown = mixed;
    unknown["artifacts"][1].erase("size");
    for (const auto &[manifest, final_line] : std::vector<std::pair<nlohmann::json, std::string>>{
             {mixed, "blobfetch: 100%  4.0 MiB / 4.0 MiB"}, {unknown, "blobfetch: 100%  4.0 MiB / 4.0 MiB"}}) {
        write_file(m_dir / "sizes.json", manifest.dump());
        std::filesystem::remove_all(m_dir / "cache");
        ProcessResult r = run_process({host_binary(), "fetch", m_dir / "sizes.json"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.err.find(final_line), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("/ ?"), std::string::npos) << r.err;
        // "<done> MiB / <total> MiB" on every line: done <= total.
        std::istringstream lines(r.err);
        for (std::string line; std::getline(lines, line);) {
            double done = 0, total = 0;
            char u1[8] = "", u2[8] = "";
            const auto at = line.find("%  ");
            if (at == std::string::npos ||
                std::sscanf(line.c_str() + at + 3, "%lf %7s / %lf %7s", &done, u1, &total, u2) != 4)
                continue;
            auto bytes = [](double v, const std::string &u) {
                return v * (u == "KiB" ? 1024.0 : u == "MiB" ? 1048576.0 : u == "GiB" ? 1073741824.0 : 1.0);
            };
            EXPECT_LE(bytes(done, u1), bytes(total, u2)) << line;
        }
    }
}

}  // namespace
}  // namespace blobfetch::test
