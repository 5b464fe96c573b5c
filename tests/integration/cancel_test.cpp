// Ctrl-C in the host cancels through the progress callback: the host exits
// 130 promptly, publishes nothing and leaves no temporary file.
#include <csignal>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/blob_content.h"
#include "support/fixture.h"
#include "support/nginx.h"
#include "support/wait.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

// Polls a growing file until it contains `needle` (bounded).
bool wait_for_text(const std::string &file, const std::string &needle, std::chrono::seconds limit) {
    return eventually(
        [&] {
            try {
                return read_file(file).find(needle) != std::string::npos;
            } catch (const std::exception &) {
                return false;  // not written yet
            }
        },
        limit, std::chrono::milliseconds(10));
}

TEST(HostCancel, SigintStopsTheFetchCleanly_ExitCode130) {
    if (!nginx_available()) GTEST_SKIP() << "nginx is not installed";
    TempDir dir;
    std::vector<TestArtifact> artifacts{{"slow", abi_key("slow"), 9, 4 << 20, {}}};
    serve_artifacts(dir / "www", artifacts);
    // 64 KiB/s: the 4 MiB blob would take a minute.
    NginxServer nginx(NginxOptions{dir / "www", "limit_rate 64k;", ""});
    write_file(dir / "m.json", make_manifest(nginx.base_url(), dir / "cache", artifacts).dump());

    BackgroundProcess host({host_binary(), "fetch", dir / "m.json", "--json", "-v"}, ProcessOptions{},
                           dir / "out.json", dir / "err.log");
    ASSERT_TRUE(wait_for_text(dir / "err.log", "slow: downloading", std::chrono::seconds(30)))
        << read_file(dir / "err.log");
    auto sent = std::chrono::steady_clock::now();
    host.signal(SIGINT);
    int rc = host.wait();
    auto latency = std::chrono::steady_clock::now() - sent;
    EXPECT_EQ(rc, 130) << read_file(dir / "err.log");
    EXPECT_LT(latency, std::chrono::seconds(5)) << "cancellation must not wait for the transfer";
    auto doc = nlohmann::json::parse(read_file(dir / "out.json"), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << read_file(dir / "out.json");
    EXPECT_EQ(doc["status"], "cancelled");
    EXPECT_FALSE(fs::exists(dir / ("cache/" + artifacts[0].relative_path())));
    for (const auto &e : fs::recursive_directory_iterator(dir / "cache"))
        EXPECT_TRUE(!e.is_regular_file() || e.path().filename() == ".download.lock") << "left behind: " << e.path();
}

// `fetch --stop-with-caller` started by a program that is then killed alone
// (SIGKILL to its pid: a CI timeout): the host stops at once instead of
// downloading on as an orphan, publishes nothing and keeps what landed.
// Without the flag it would go on (the default for `fetch`: a user may run
// it with nohup).
TEST(HostCancel, CallerKilledAlone_FetchWithStopWithCaller_StopsAndPublishesNothing) {
    if (!nginx_available()) GTEST_SKIP() << "nginx is not installed";
    TempDir dir;
    std::vector<TestArtifact> artifacts{{"slow", abi_key("slow"), 9, 4 << 20, {}}};
    serve_artifacts(dir / "www", artifacts);
    NginxServer nginx(NginxOptions{dir / "www", "limit_rate 256k;", ""});
    write_file(dir / "m.json", make_manifest(nginx.base_url(), dir / "cache", artifacts).dump());
    // The caller: a program (not a shell) that starts the host and waits.
    BackgroundProcess caller({"python3", "-c",
                              "import subprocess,sys\n"
                              "p=subprocess.Popen(sys.argv[1:])\n"
                              "print(p.pid, flush=True)\n"
                              "p.wait()\n",
                              host_binary(), "fetch", dir / "m.json", "-q", "--stop-with-caller"},
                             ProcessOptions{}, dir / "caller.out", dir / "caller.err");
    ASSERT_TRUE(wait_for_text(dir / "caller.out", "\n", std::chrono::seconds(30))) << read_file(dir / "caller.err");
    ProcessWatch host(static_cast<pid_t>(std::stol(read_file(dir / "caller.out"))));
    const std::string part = dir / ("cache/" + artifacts[0].relative_path() + ".part");
    ASSERT_TRUE(eventually([&] { return fs::exists(part); }, std::chrono::seconds(30)));
    caller.signal(SIGKILL);
    caller.wait();
    EXPECT_TRUE(eventually([&] { return host.exited(); }, std::chrono::seconds(3)))
        << "the host outlived its caller by 3 s";
    host.signal(SIGKILL);
    EXPECT_FALSE(fs::exists(dir / ("cache/" + artifacts[0].relative_path())));
}

}  // namespace
}  // namespace blobfetch::test
