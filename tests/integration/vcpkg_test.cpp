// The real vcpkg (../shared/vcpkg next to the source tree) with blobfetch as
// its asset-caching script: X_VCPKG_ASSET_SOURCES="x-script,<bin>/blobfetch
// x-script {url} {sha512} {dst};x-block-origin". As observed here, vcpkg runs
// the script through `sh -c` (dash stays as blobfetch's parent), in vcpkg's
// process group, with stdin an empty pipe and stdout and stderr one pipe
// whose output vcpkg relays; {dst} is `<file>.<vcpkg pid>.part`, a {url}
// with a blank is double-quoted; vcpkg forwards no signal, and after exit 0
// hashes {dst} and renames it into place. Every server is the in-process
// fault server on 127.0.0.1 (x-block-origin: vcpkg itself never downloads);
// every vcpkg runs in a process group of its own that the fixture kills.
// Skipped when ../shared/vcpkg is absent.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "config/provider_options.h"
#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/process.h"
#include "support/wait.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// x-script runs with the engine's default options (the fixture removes
// BLOBFETCH_OPTIONS): this many connections, chunks of this size.
const config::ProviderOptions kDefaults;

fs::path vcpkg_dir() { return fs::path(source_dir()).parent_path() / "shared" / "vcpkg"; }

// A writable copy of the read-only tree `from` (files, directories, links).
void copy_tree(const fs::path &from, const fs::path &to) {
    fs::create_directories(to);
    for (const auto &e : fs::recursive_directory_iterator(from)) {
        const fs::path target = to / fs::relative(e.path(), from);
        if (e.is_symlink()) {
            fs::copy_symlink(e.path(), target);
        } else if (e.is_directory()) {
            fs::create_directories(target);
        } else {
            fs::copy_file(e.path(), target);
            fs::permissions(target, fs::perms::owner_write, fs::perm_options::add);
        }
    }
}

// /proc/<pid>/cmdline split at its NULs ({} once the process is gone).
std::vector<std::string> cmdline(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::vector<std::string> argv;
    std::string arg;
    while (std::getline(in, arg, '\0')) argv.push_back(arg);
    return argv;
}

std::vector<std::string> entries(const fs::path &dir) {
    std::vector<std::string> names;
    for (const auto &e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

struct Asset {
    std::string path;  // on the server
    std::string content;
    std::string sha512;
};

// The `sh -c` vcpkg started for the script, and blobfetch under it (owned
// by the fixture; null when they were not found).
struct Script {
    ProcessWatch *sh = nullptr, *blobfetch = nullptr;
    std::vector<std::string> argv;  // blobfetch's command line
};

class Vcpkg : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(vcpkg_dir() / "vcpkg") || !fs::exists(vcpkg_dir() / "root"))
            GTEST_SKIP() << vcpkg_dir().string() << " is absent: no real vcpkg to test with (see its README.md)";
        copy_tree(vcpkg_dir() / "root", m_root);
        fs::create_directories(m_downloads);
        fs::create_directories(m_dir / "logs");
        fs::create_directories(m_dir / "home");
    }

    void TearDown() override {
        // Whatever a failed test left running: the watched sh and blobfetch
        // processes, then each vcpkg's process group (sh and blobfetch stay
        // in it, orphaned or not).
        for (auto &w : m_watches) w->signal(SIGKILL);
        m_vcpkgs.clear();
        m_watches.clear();
    }

    Asset serve(const std::string &path, std::uint64_t seed, std::size_t size) {
        m_server.add_blob(path, seed, size);
        Asset a{path, blob_content(seed, size), {}};
        a.sha512 = sha512_hex(a.content);
        return a;
    }
    std::string url(const Asset &a) const { return m_server.base_url() + a.path; }

    // vcpkg's environment: the copied root, no metrics, the system's cmake,
    // no binary cache, a home of its own, no proxy (everything stays on
    // 127.0.0.1), and blobfetch as the only asset source.
    ProcessOptions vcpkg_env(const std::string &script_flags) const {
        ProcessOptions po;
        po.own_process_group = true;
        po.env["VCPKG_ROOT"] = m_root;
        po.env["VCPKG_DISABLE_METRICS"] = "1";
        po.env["VCPKG_FORCE_SYSTEM_BINARIES"] = "1";
        po.env["VCPKG_BINARY_SOURCES"] = "clear";
        po.env["VCPKG_DOWNLOADS"] = m_dir / "vcpkg-downloads";
        po.env["X_VCPKG_ASSET_SOURCES"] = "x-script," + host_binary() + " x-script " + script_flags +
                                          "{url} {sha512} {dst};x-block-origin";
        po.env["HOME"] = m_dir / "home";
        po.env["XDG_CACHE_HOME"] = m_dir / "home/.cache";
        for (const char *v : {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                              "BLOBFETCH_OPTIONS", "BLOBFETCH_PLUGIN", "X_VCPKG_RECURSIVE_DATA"})
            po.env[v] = std::nullopt;
        return po;
    }

    // Starts vcpkg with `args` in a process group of its own; its stdout and
    // stderr go to logs/<name>.out and .err. `script_flags` go before the
    // x-script arguments (e.g. "-v ").
    BackgroundProcess &start(const std::string &name, const std::vector<std::string> &args,
                             const std::string &script_flags = "") {
        std::vector<std::string> argv{(vcpkg_dir() / "vcpkg").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        m_vcpkgs.push_back(std::make_unique<BackgroundProcess>(argv, vcpkg_env(script_flags), log(name, "out"),
                                                               log(name, "err")));
        return *m_vcpkgs.back();
    }
    BackgroundProcess &start_download(const std::string &name, const Asset &a, const std::string &dst,
                                      const std::string &script_flags = "") {
        return start(name, {"x-download", dst, a.sha512, "--url=" + url(a)}, script_flags);
    }

    std::string log(const std::string &name, const std::string &stream) const {
        return m_dir / ("logs/" + name + "." + stream);
    }
    std::string output(const std::string &name) const {
        return read_file(log(name, "out")) + read_file(log(name, "err"));
    }

    // Runs vcpkg to completion (bounded: after `limit` its group is killed
    // and -2 returned); returns its exit code.
    int run(const std::string &name, const std::vector<std::string> &args, std::chrono::milliseconds limit = 120s) {
        BackgroundProcess &p = start(name, args);
        if (!eventually([&] { return p.exited(); }, limit, 20ms)) {
            p.signal_group(SIGKILL);
            p.wait();
            ADD_FAILURE() << "vcpkg " << name << " did not finish within " << limit.count() << " ms:\n"
                          << output(name);
            return -2;
        }
        return p.wait();
    }

    // Finds (bounded) the `sh -c` that vcpkg `p` runs the script with and the
    // blobfetch under it, and watches both.
    Script find_script(BackgroundProcess &p) {
        std::unique_ptr<ProcessWatch> sh, bf;
        std::vector<std::string> argv;
        const bool found = eventually(
            [&] {
                for (const auto &s : children_of(p.pid(), "sh"))
                    for (const auto &b : children_of(s.pid, "blobfetch")) {
                        sh = std::make_unique<ProcessWatch>(s.pid);
                        bf = std::make_unique<ProcessWatch>(b.pid);
                        argv = cmdline(b.pid);
                        // Opened after the scan: still the same processes?
                        return !children_of(s.pid, "blobfetch").empty() && !bf->exited();
                    }
                return false;
            },
            20s, 10ms);
        if (!found) return {};
        m_watches.push_back(std::move(sh));
        m_watches.push_back(std::move(bf));
        return {m_watches[m_watches.size() - 2].get(), m_watches.back().get(), argv};
    }

    void killed_alone(const std::string &script_flags);

    TempDir m_dir;
    FaultServer m_server;
    const std::string m_root = m_dir / "root";
    const std::string m_downloads = m_dir / "downloads";
    // Destroyed before the server: each kills its whole process group.
    std::vector<std::unique_ptr<BackgroundProcess>> m_vcpkgs;
    std::vector<std::unique_ptr<ProcessWatch>> m_watches;
};

TEST_F(Vcpkg, XDownload_ThroughXScript_ByteExact_NothingElseLeftInTheDownloadsDir) {
    const Asset a = serve("/assets/zlib-1.3.tar.gz", 101, 3 << 20);
    const std::string dst = m_downloads + "/zlib-1.3.tar.gz";
    ASSERT_EQ(run("get", {"x-download", dst, a.sha512, "--url=" + url(a)}), 0) << output("get");
    EXPECT_TRUE(read_file(dst) == a.content) << "byte-exact at dst";
    EXPECT_NE(output("get").find("Asset cache hit"), std::string::npos) << output("get");
    EXPECT_EQ(entries(m_downloads), (std::vector<std::string>{".blobfetch-staging", "zlib-1.3.tar.gz"}))
        << "no .part of vcpkg's or blobfetch's is left";
    const auto requests = m_server.requests();
    ASSERT_FALSE(requests.empty());
    for (const auto &r : requests) {
        EXPECT_EQ(r.path, a.path);
        EXPECT_EQ(header(r, "User-Agent").rfind("blobfetch/", 0), 0u) << "only blobfetch asked: " << r.headers;
    }
}

TEST_F(Vcpkg, KilledHalfWay_TheNextVcpkgWithAnotherDst_Resumes) {
    // 48 MiB at 1.5 MiB/s per connection: about 4 s with every connection.
    const std::int64_t size = 48 << 20;
    m_server.set_rate_limit(3 << 19);
    const Asset a = serve("/big/llvm-src.tar.xz", 102, size);
    const std::string dst = m_downloads + "/llvm-src.tar.xz";

    BackgroundProcess &first = start_download("first", a, dst);
    const Script script = find_script(first);
    ASSERT_TRUE(script.blobfetch) << "no blobfetch under vcpkg's sh:\n" << output("first");
    const std::string first_dst = dst + "." + std::to_string(first.pid()) + ".part";
    EXPECT_EQ(script.argv, (std::vector<std::string>{host_binary(), "x-script", url(a), a.sha512, first_dst}))
        << "vcpkg's {dst} is <file>.<its pid>.part";
    ASSERT_TRUE(eventually([&] { return m_server.body_bytes_sent(a.path) >= size / 2 || first.exited(); }, 60s,
                           2ms));
    ASSERT_FALSE(first.exited()) << "finished before half way:\n" << output("first");
    first.signal_group(SIGKILL);  // vcpkg, sh and blobfetch at once
    first.wait();
    EXPECT_TRUE(eventually([&] { return script.blobfetch->exited() && script.sh->exited(); }, 10s));
    const std::int64_t at_kill = m_server.body_bytes_sent(a.path);
    EXPECT_LT(at_kill, size) << "killed before the whole asset was sent";
    EXPECT_FALSE(fs::exists(dst));
    EXPECT_FALSE(fs::exists(first_dst));

    // A new vcpkg: a new pid, so a new {dst}; blobfetch's staged download is
    // keyed on the SHA-512 and resumes.
    ASSERT_EQ(run("second", {"x-download", dst, a.sha512, "--url=" + url(a)}), 0) << output("second");
    EXPECT_TRUE(read_file(dst) == a.content) << "byte-exact after resuming";
    const std::int64_t total = m_server.body_bytes_sent(a.path);
    const std::int64_t slack = kDefaults.concurrency * kDefaults.chunk_size;
    EXPECT_LE(total, size + slack) << "sent " << at_kill << " before the kill and " << total - at_kill
                                   << " after it: the second run fetched only what was missing, plus at most one "
                                      "chunk per connection ("
                                   << kDefaults.concurrency << " x " << kDefaults.chunk_size << ")";
    EXPECT_EQ(entries(m_downloads), (std::vector<std::string>{".blobfetch-staging", "llvm-src.tar.xz"}));
    RecordProperty("bytes_sent_before_kill", std::to_string(at_kill));
    RecordProperty("bytes_sent_total", std::to_string(total));
    std::printf("figure: resume: asset %lld B, sent %lld B before the kill, %lld B in total (bound %lld B)\n",
                static_cast<long long>(size), static_cast<long long>(at_kill), static_cast<long long>(total),
                static_cast<long long>(size + slack));
}

TEST_F(Vcpkg, TwoVcpkgsOnOneAssetAtOnce_BothSucceed_ItsBytesAreSentAbout_Once) {
    // 16 MiB at 1 MiB/s per connection: about 2 s.
    const std::int64_t size = 16 << 20;
    m_server.set_rate_limit(1 << 20);
    const Asset a = serve("/assets/boost-1.86.tar.gz", 103, size);
    const std::string dst = m_downloads + "/boost-1.86.tar.gz";
    BackgroundProcess &first = start_download("first", a, dst);
    ASSERT_TRUE(eventually([&] { return m_server.body_bytes_sent(a.path) > 0 || first.exited(); }, 20s))
        << output("first");
    const std::int64_t sent_at_second = m_server.body_bytes_sent(a.path);
    ASSERT_LT(sent_at_second, size / 2) << "the second starts while the first is downloading";
    ASSERT_FALSE(first.exited()) << output("first");
    BackgroundProcess &second = start_download("second", a, dst);
    ASSERT_TRUE(eventually([&] { return first.exited() && second.exited(); }, 60s))
        << output("first") << output("second");
    EXPECT_EQ(first.wait(), 0) << output("first");
    EXPECT_EQ(second.wait(), 0) << output("second");
    EXPECT_TRUE(read_file(dst) == a.content) << "byte-exact (and each vcpkg checked the SHA-512 of its own {dst})";
    const std::int64_t total = m_server.body_bytes_sent(a.path);
    EXPECT_LE(total, size + size / 10) << "the two shared one download";
    std::printf("figure: two vcpkgs on one asset: %lld B sent for a %lld B asset (%.3fx)\n",
                static_cast<long long>(total), static_cast<long long>(size),
                static_cast<double>(total) / static_cast<double>(size));
}

// The second vcpkg of two on one asset renames its {dst} onto the file the
// first one placed. Fails while x-script hard-links the staged asset to
// {dst}: both names are then links to one inode, and rename(2) of a link onto
// another link of the same file does nothing and succeeds, so the second
// vcpkg's `<file>.<pid>.part` stays behind.
TEST_F(Vcpkg, TwoVcpkgsOnOneAssetAtOnce_LeaveNoPartFileBehind) {
    // 4 MiB (two chunks) at 2 MiB/s per connection: about 1 s.
    const std::int64_t size = 4 << 20;
    m_server.set_rate_limit(2 << 20);
    const Asset a = serve("/assets/curl-8.9.tar.gz", 110, size);
    const std::string dst = m_downloads + "/curl-8.9.tar.gz";
    BackgroundProcess &first = start_download("first", a, dst);
    ASSERT_TRUE(eventually([&] { return m_server.body_bytes_sent(a.path) > 0 || first.exited(); }, 20s))
        << output("first");
    ASSERT_LT(m_server.body_bytes_sent(a.path), size / 2) << "the second starts while the first is downloading";
    ASSERT_FALSE(first.exited()) << output("first");
    BackgroundProcess &second = start_download("second", a, dst);
    ASSERT_TRUE(eventually([&] { return first.exited() && second.exited(); }, 60s))
        << output("first") << output("second");
    ASSERT_EQ(first.wait(), 0) << output("first");
    ASSERT_EQ(second.wait(), 0) << output("second");
    EXPECT_TRUE(read_file(dst) == a.content);
    const std::string second_part = dst + "." + std::to_string(second.pid()) + ".part";
    std::error_code ec;
    EXPECT_EQ(entries(m_downloads), (std::vector<std::string>{".blobfetch-staging", "curl-8.9.tar.gz"}))
        << "the second vcpkg's {dst} " << (fs::exists(second_part) ? "is left" : "is not left")
        << (fs::equivalent(second_part, dst, ec) ? ", the same file as dst (hard links of one inode)" : "");
}

// Fails while blobfetch's lock is per directory: every x-script of one
// downloads directory shares `.blobfetch-staging`, so a small asset waits for
// whoever holds it. Bounded: 20 s, then the fixture kills both.
TEST_F(Vcpkg, SmallAssetNextToAHeldSlowOne_CompletesWhileTheSlowOneIsHeld_WithoutWaiting) {
    const Asset slow = serve("/assets/slow.tar.gz", 104, 8 << 20);
    FaultRule hold;
    hold.path = slow.path;
    hold.times = -1;
    hold.fault.kind = FaultKind::stall;  // held until the client leaves or the server stops
    hold.fault.after_bytes = 64 << 10;
    m_server.add_rule(hold);
    const Asset small = serve("/assets/small.tar.gz", 105, 1 << 20);

    BackgroundProcess &held = start_download("slow", slow, m_downloads + "/slow.tar.gz", "-v ");
    ASSERT_TRUE(eventually([&] { return m_server.body_bytes_sent(slow.path) >= hold.fault.after_bytes; }, 20s))
        << output("slow");
    const auto quick_start = std::chrono::steady_clock::now();
    BackgroundProcess &quick = start_download("small", small, m_downloads + "/small.tar.gz", "-v ");
    if (!eventually([&] { return quick.exited(); }, 20s, 10ms)) {
        ADD_FAILURE() << "the 1 MiB download did not complete within 20 s while the slow one was held:\n"
                      << output("small");
        return;
    }
    // Structural: the slow download is still held (its response has not
    // ended, its vcpkg still runs) when the small one is done.
    EXPECT_FALSE(held.exited()) << output("slow");
    for (const auto &r : m_server.requests()) EXPECT_NE(r.path, slow.path) << "the held response ended";
    EXPECT_EQ(quick.wait(), 0) << output("small");
    EXPECT_TRUE(read_file(m_downloads + "/small.tar.gz") == small.content);
    EXPECT_EQ(output("small").find("waiting for"), std::string::npos) << output("small");
    std::printf("figure: 1 MiB asset beside a held one: vcpkg x-download done in %lld ms\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - quick_start)
                                           .count()));
}

// vcpkg killed alone (SIGKILL to its pid only, as an OOM kill or a CI
// timeout may do): sh and blobfetch get no signal. Bounded: 3 s for them to
// go; a blobfetch still there is given up to 20 s to end by itself (to show
// what it leaves behind), then the fixture kills the rest.
void Vcpkg::killed_alone(const std::string &script_flags) {
    // 4 MiB (two chunks) at 512 KiB/s per connection: about 4 s; a blobfetch
    // that went on alone would finish it soon after the kill.
    const std::int64_t size = 4 << 20;
    m_server.set_rate_limit(512 << 10);
    const Asset a = serve("/assets/qt-base.tar.xz", 106, size);
    const std::string dst = m_downloads + "/qt-base.tar.xz";
    BackgroundProcess &vcpkg = start_download("alone", a, dst, script_flags);
    const Script script = find_script(vcpkg);
    ASSERT_TRUE(script.blobfetch) << "no blobfetch under vcpkg's sh:\n" << output("alone");
    const std::string part = dst + "." + std::to_string(vcpkg.pid()) + ".part";
    ASSERT_TRUE(eventually([&] { return m_server.body_bytes_sent(a.path) >= (1 << 20) || vcpkg.exited(); }, 20s));
    ASSERT_FALSE(vcpkg.exited()) << output("alone");
    const auto killed_at = std::chrono::steady_clock::now();
    vcpkg.signal(SIGKILL);  // vcpkg only
    ASSERT_TRUE(eventually([&] { return vcpkg.exited(); }, 10s));
    const bool gone = eventually([&] { return script.blobfetch->exited() && script.sh->exited(); }, 3s, 5ms);
    if (gone)
        std::printf("figure: vcpkg killed alone (script '%s'): sh and blobfetch gone %lld ms later\n",
                    script_flags.c_str(),
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - killed_at)
                                               .count()));
    EXPECT_TRUE(gone) << "3 s after vcpkg was killed: blobfetch (pid " << script.blobfetch->pid() << ") "
                      << (script.blobfetch->exited() ? "gone" : "still running") << ", sh (pid "
                      << script.sh->pid() << ") " << (script.sh->exited() ? "gone" : "still running") << "\n"
                      << output("alone");
    if (!gone) {
        // What an orphaned blobfetch does next, then no more of it.
        eventually([&] { return script.blobfetch->exited(); }, 20s, 20ms);
        script.blobfetch->signal(SIGKILL);
        script.sh->signal(SIGKILL);
        eventually([&] { return script.blobfetch->exited() && script.sh->exited(); }, 10s);
    }
    EXPECT_FALSE(fs::exists(dst)) << "published at the final name";
    EXPECT_FALSE(fs::exists(part)) << "published at vcpkg's {dst}, which no vcpkg will ever rename or remove";
}

// With the plain script, blobfetch's next progress line goes to the pipe
// vcpkg read its output from: nobody reads it any more, and SIGPIPE ends
// blobfetch (and then sh) before it places anything.
TEST_F(Vcpkg, VcpkgKilledAlone_ShAndBlobfetchGoWithinASecond_NothingIsPublished) { killed_alone(""); }

// With -q blobfetch writes nothing, so only its own watch on vcpkg can end
// it. Fails while it has none: it finishes the download alone and places it
// at vcpkg's {dst}.
TEST_F(Vcpkg, VcpkgKilledAlone_QuietScript_ShAndBlobfetchGoWithinASecond_NothingIsPublished) {
    killed_alone("-q ");
}

TEST_F(Vcpkg, UrlWithASpace_IsPercentEncoded_ByteExact) {
    const Asset a = serve("/with%20space/asset%20one.tar.gz", 107, 300000);
    const std::string dst = m_downloads + "/asset one.tar.gz";
    const std::string raw = m_server.base_url() + "/with space/asset one.tar.gz";
    ASSERT_EQ(run("space", {"x-download", dst, a.sha512, "--url=" + raw}), 0) << output("space");
    EXPECT_TRUE(read_file(dst) == a.content);
    const auto requests = m_server.requests();
    ASSERT_FALSE(requests.empty());
    for (const auto &r : requests) EXPECT_EQ(r.path, a.path) << "sent percent-encoded";
}

TEST_F(Vcpkg, InstallOfAnOverlayPort_ItsTwoDistfilesComeThroughBlobfetch) {
    const Asset src = serve("/demo/demo-1.0.0.tar.gz", 108, 400000);
    const Asset patch = serve("/demo/demo-fix.patch", 109, 5000);
    const std::string port = m_dir / "ports/demo";
    write_file(port + "/vcpkg.json", R"({"name": "demo", "version": "1.0.0"})");
    write_file(port + "/portfile.cmake",
               "set(VCPKG_POLICY_EMPTY_INCLUDE_FOLDER enabled)\n"
               "set(VCPKG_BUILD_TYPE release)\n"
               "vcpkg_download_distfile(SRC URLS \"" + url(src) + "\" FILENAME \"demo-1.0.0.tar.gz\" SHA512 " +
                   src.sha512 + ")\n"
               "vcpkg_download_distfile(PATCH URLS \"" + url(patch) + "\" FILENAME \"demo-fix.patch\" SHA512 " +
                   patch.sha512 + ")\n"
               "file(WRITE \"${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright\" \"test\\n\")\n");
    ASSERT_EQ(run("install", {"install", "demo", "--overlay-ports=" + (m_dir / "ports"), "--classic",
                              "--triplet=x64-linux"}),
              0)
        << output("install");
    EXPECT_TRUE(fs::exists(m_root + "/installed/x64-linux/share/demo/copyright")) << output("install");
    EXPECT_TRUE(read_file(m_dir / "vcpkg-downloads/demo-1.0.0.tar.gz") == src.content);
    EXPECT_TRUE(read_file(m_dir / "vcpkg-downloads/demo-fix.patch") == patch.content);
    std::set<std::string> asked;
    for (const auto &r : m_server.requests()) {
        asked.insert(r.path);
        EXPECT_EQ(header(r, "User-Agent").rfind("blobfetch/", 0), 0u) << "only blobfetch asked: " << r.headers;
    }
    EXPECT_EQ(asked, (std::set<std::string>{src.path, patch.path}));
}

}  // namespace
}  // namespace blobfetch::test
