// The host's command line on bad input: exit code 2, a message naming the
// file, the place (JSON pointer or line:column) and the field, nothing written.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/fixture.h"
#include "support/process.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

struct BadInput {
    const char *fixture;                  // manifests/invalid/<fixture>
    std::vector<const char *> mentions;   // substrings the message must contain
};

class HostBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(HostBadInput, ExitsWithBadInputAndNamesTheProblem_NothingWritten) {
    const BadInput &c = GetParam();
    TempDir dir;
    const std::string manifest = source_dir() + "/manifests/invalid/" + c.fixture;
    const std::string cache = dir / "cache";
    auto r = run_process({host_binary(), "fetch", manifest, "--cache", cache});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(c.fixture), std::string::npos) << "names the file: " << r.err;
    for (const char *m : c.mentions) EXPECT_NE(r.err.find(m), std::string::npos) << m << " in: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(cache)) << "bad input must not touch the cache";

    auto j = run_process({host_binary(), "fetch", manifest, "--cache", cache, "--json"});
    EXPECT_EQ(j.exit_code, 2);
    auto doc = nlohmann::json::parse(j.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << j.out;
    EXPECT_EQ(doc["status"], "error");
    EXPECT_EQ(doc["exit_code"], 2);
    EXPECT_NE(doc["message"].get<std::string>().find(c.fixture), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, HostBadInput,
    ::testing::Values(BadInput{"syntax-error.json", {":5:52:", "invalid JSON"}},
                      BadInput{"missing-cache-dir.json", {"/cache_dir", "missing required field"}},
                      BadInput{"mistyped-size.json", {"/artifacts/0/size", "\"ten\""}},
                      BadInput{"unknown-template-variable.json", {"/sources/0/url", "{abi}", "{triplet}"}},
                      BadInput{"bad-sha256.json", {"/artifacts/0/sha256", "64 hexadecimal"}},
                      BadInput{"path-escapes.json", {"/artifacts/0", "'..'", "zlib"}},
                      BadInput{"artifact-path-escapes.json", {"/artifacts/0", "'..'"}},
                      BadInput{"absolute-path.json", {"/artifacts/0", "absolute"}},
                      BadInput{"reserved-name.json",
                               {"/artifacts/1", "zlib/abc123" "0000000000000000000000000000000000000000000000000000000000.part", "'.part'"}},
                      BadInput{"unknown-field.json", {"/artifacts/0/sizee", "unknown field"}},
                      BadInput{"bad-option.json", {"/options/concurrency", "1 to 256"}}),
    [](const ::testing::TestParamInfo<BadInput> &info) {
        std::string name = info.param.fixture;
        name = name.substr(0, name.find('.'));
        for (char &ch : name)
            if (ch == '-') ch = '_';
        return name;
    });

TEST(HostCli, MissingManifestFileIsBadInputNamingIt) {
    auto r = run_process({host_binary(), "fetch", "/nonexistent/manifest.json"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("/nonexistent/manifest.json"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
}

TEST(HostCli, UnsetEnvironmentVariableIsBadInputNamingIt) {
    auto r = run_process({host_binary(), "fetch", source_dir() + "/manifests/demo.json"},
                         ProcessOptions{{{"BLOBFETCH_DEMO_URL", std::nullopt}}, "", ""});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("BLOBFETCH_DEMO_URL"), std::string::npos) << r.err;
}

// A valid manifest with no artifacts, for tests about the plugin itself.
std::string write_empty_manifest(const TempDir &dir) {
    write_file(dir / "m.json", make_manifest("http://127.0.0.1:1", dir / "cache", {}).dump());
    return dir / "m.json";
}

TEST(HostCli, UnloadablePluginExitsThreeNamingThePath) {
    TempDir dir;
    write_empty_manifest(dir);
    auto r = run_process({host_binary(), "fetch", dir / "m.json", "--plugin", "/nonexistent/plugin.so"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("/nonexistent/plugin.so"), std::string::npos) << r.err;
    // A library that is not a blobfetch plugin.
    auto r2 = run_process({host_binary(), "fetch", dir / "m.json", "--plugin", "libz.so.1"});
    EXPECT_EQ(r2.exit_code, 3);
    EXPECT_NE(r2.err.find("bf_get_provider"), std::string::npos) << r2.err;
}

TEST(HostCli, PluginFromEnvironmentVariableIsUsed) {
    TempDir dir;
    write_empty_manifest(dir);
    auto r = run_process({host_binary(), "fetch", dir / "m.json"},
                         ProcessOptions{{{"BLOBFETCH_PLUGIN", "/nonexistent/from-env.so"}}, "", ""});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("/nonexistent/from-env.so"), std::string::npos) << r.err;
}

TEST(HostCli, HelpListsTheExitCodes_UsageErrorsAreBadInput) {
    auto r = run_process({host_binary(), "fetch", "--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("130"), std::string::npos);
    EXPECT_EQ(run_process({host_binary()}).exit_code, 2);
    EXPECT_EQ(run_process({host_binary(), "fetch"}).exit_code, 2);
    EXPECT_EQ(run_process({host_binary(), "fetch", "m.json", "--bogus"}).exit_code, 2);
}

}  // namespace
}  // namespace blobfetch::test
