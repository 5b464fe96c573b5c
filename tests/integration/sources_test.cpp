// vcpkg's language, end to end: binary source strings in the manifest, in
// VCPKG_BINARY_SOURCES and on the command line, tried in order (a miss or an
// error falls through to the next source and is reported); the files
// provider's layout; `blobfetch x-script` as vcpkg's asset-caching script.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <tuple>

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"
#include "support/wait.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

FaultRule always(const std::string &path, int status) {
    FaultRule r;
    r.path = path;
    r.times = -1;
    r.fault.kind = FaultKind::status;
    r.fault.status = status;
    return r;
}

// A rule answering `status` with a body that never ends (at most
// `bytes_per_second`: a trickle), forever.
FaultRule endless(const std::string &path, int status, std::int64_t bytes_per_second = 0,
                  const std::string &location = "") {
    FaultRule r = always(path, status);
    r.fault.kind = FaultKind::endless_status;
    r.fault.bytes_per_second = bytes_per_second;
    r.fault.location = location;
    return r;
}

// The host run to its end, or killed after `limit`: a run that would read an
// endless body forever fails the test instead of hanging it.
struct BoundedRun {
    bool ended = false;  // false: still running after the limit (then killed)
    int exit_code = -1;
    std::string out, err;
    nlohmann::json json;  // stdout as JSON, null when it is none
    std::chrono::milliseconds took{0};
};
BoundedRun run_bounded(std::vector<std::string> argv, const std::filesystem::path &dir,
                       std::chrono::seconds limit = std::chrono::seconds(30), ProcessOptions options = {}) {
    // As run_host_fetch: never the default binary cache of whoever runs the tests.
    if (!options.env.count("XDG_CACHE_HOME")) options.env["XDG_CACHE_HOME"] = "/nonexistent/blobfetch-tests-xdg-cache";
    options.env.emplace("VCPKG_DEFAULT_BINARY_CACHE", std::nullopt);
    const std::string out = (dir / "bounded.out").string(), err = (dir / "bounded.err").string();
    BoundedRun run;
    const auto start = std::chrono::steady_clock::now();
    {
        BackgroundProcess p(argv, options, out, err);
        run.ended = eventually([&] { return p.exited(); }, limit, std::chrono::milliseconds(10));
        run.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        if (!run.ended) p.signal(SIGKILL);
        const int code = p.wait();
        if (run.ended) run.exit_code = code;
    }
    run.out = read_file(out);
    run.err = read_file(err);
    run.json = nlohmann::json::parse(run.out, nullptr, false);
    if (run.json.is_discarded()) run.json = nullptr;
    return run;
}

// The files beneath `dir` ("name size" lines), for messages.
std::string list_files(const std::filesystem::path &dir) {
    std::string out;
    for (const auto &e : std::filesystem::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out += e.path().string() + " " + std::to_string(e.file_size()) + "\n";
    return out;
}

// The size of the largest file of data beneath `dir` (0 when there is
// none): lock files, whose layout has a fixed size, do not count.
std::uintmax_t largest_file(const std::filesystem::path &dir) {
    std::uintmax_t most = 0;
    for (const auto &e : std::filesystem::recursive_directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename() != ".download.lock") most = std::max(most, e.file_size());
    return most;
}

class Sources : public ::testing::Test {
protected:
    void SetUp() override {
        m_artifacts = {{"one", abi_key("one"), 31, 200000, {}},
                       {"two", abi_key("two"), 32, 5000, {}},
                       {"three", abi_key("three"), 33, 70000, {}}};
        for (auto &a : m_artifacts) {
            a.sha256 = sha256_hex(blob_content(a.seed, a.size));
            m_a.add_blob("/" + a.relative_path(), a.seed, a.size);
            m_b.add_blob("/" + a.relative_path(), a.seed, a.size);
        }
    }
    std::string write_manifest(const std::string &binary_sources, const nlohmann::json &options = {{"retries", 1}}) {
        nlohmann::json m = make_manifest("http://unused", m_dir / "cache", m_artifacts, options);
        m.erase("sources");
        m["binary_sources"] = binary_sources;
        write_file(m_dir / "m.json", m.dump());
        return m_dir / "m.json";
    }
    std::string source(const FaultServer &s) const { return "http," + s.base_url() + "/{name}/{sha}.zip"; }
    std::string cached(std::size_t i) const { return m_dir / ("cache/" + m_artifacts[i].relative_path()); }

    FaultServer m_a, m_b;
    TempDir m_dir;
    std::vector<TestArtifact> m_artifacts;
};

TEST_F(Sources, AMissOrAnErrorFallsThroughToTheNextSource_AndIsReported) {
    m_a.add_rule(always("/" + m_artifacts[0].relative_path(), 404));
    m_a.add_rule(always("/" + m_artifacts[1].relative_path(), 503));
    HostRun run = run_host_fetch(write_manifest(source(m_a) + ";" + source(m_b)));
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(sha256_file_hex(cached(i)), m_artifacts[i].sha256);
    const auto &blobs = run.json["blobs"];
    EXPECT_NE(blobs[0]["source"].get<std::string>().find(std::to_string(m_b.port())), std::string::npos);
    ASSERT_EQ(blobs[0]["sources_tried"].size(), 1u);
    EXPECT_NE(blobs[0]["sources_tried"][0].get<std::string>().find("HTTP 404"), std::string::npos) << blobs[0];
    EXPECT_NE(blobs[1]["sources_tried"][0].get<std::string>().find("HTTP 503"), std::string::npos) << blobs[1];
    EXPECT_NE(blobs[2]["source"].get<std::string>().find(std::to_string(m_a.port())), std::string::npos)
        << "the first source served what it had";
    EXPECT_NE(run.process.err.find("trying http,"), std::string::npos) << run.process.err;
}

TEST_F(Sources, EverySourceFailing_ReportsEachOne) {
    m_a.add_rule(always("", 404));
    m_b.add_rule(always("", 403));
    HostRun run = run_host_fetch(write_manifest(source(m_a) + ";" + source(m_b)));
    EXPECT_EQ(run.process.exit_code, 1);
    const std::string msg = run.json["blobs"][0]["message"];
    EXPECT_NE(msg.find("no source could serve it"), std::string::npos) << msg;
    EXPECT_NE(msg.find("HTTP 404"), std::string::npos) << msg;
    EXPECT_NE(msg.find("HTTP 403"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(cached(0)));
}

TEST_F(Sources, FilesProvider_ReadsTheVcpkgArchiveLayout) {
    const std::string dir = m_dir / "archives";
    for (const auto &a : m_artifacts)
        write_blob(dir + "/" + a.abi.substr(0, 2) + "/" + a.abi + ".zip", a.seed, a.size);
    HostRun run = run_host_fetch(write_manifest("files," + dir + ",read"));
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(sha256_file_hex(cached(i)), m_artifacts[i].sha256);
    EXPECT_TRUE(m_a.requests().empty());
}

// An ABI key that is not vcpkg's hash (64 lower-case hex digits) never
// becomes a path or a URL: "..x" once made a files source read
// <dir>/../..x.zip, outside the files cache, and ".." in an http template's
// ".../{sha}/blob" asks for another resource once dot segments go. Refused
// as bad input naming the key; nothing is read and no server is asked.
TEST_F(Sources, AbiKeyThatIsNotAHash_IsRefused_NothingOutsideTheLayoutIsRead) {
    const std::string dir = m_dir / "archives";
    fs::create_directories(dir);
    const std::string beside = write_blob(m_dir / "..x.zip", 34, 3000);  // what "..x" names in the files layout
    m_a.add_blob("/blob", 35, 3000);                                    // what ".." names in the http template
    const std::string above = sha256_hex(blob_content(35, 3000));
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"files," + dir, "..x", beside}, {"http," + m_a.base_url() + "/cache/{sha}/blob", "..", above}};
    for (const auto &[source, key, sha256] : cases) {
        nlohmann::json m = make_manifest("http://unused", m_dir / "cache", {});
        m.erase("sources");
        m["binary_sources"] = source;
        m["artifacts"] = {{{"name", "outside"}, {"sha", key}, {"size", 3000}, {"sha256", sha256}}};
        write_file(m_dir / "m.json", m.dump());
        HostRun run = run_host_fetch(m_dir / "m.json");
        EXPECT_EQ(run.process.exit_code, 2) << source << ": " << run.process.err;
        EXPECT_NE(run.process.err.find("\"" + key + "\""), std::string::npos) << "names the key: " << run.process.err;
        EXPECT_FALSE(fs::exists(m_dir / "cache")) << source << ": read from outside the layout";
        EXPECT_TRUE(m_a.requests().empty()) << source;
    }
}

TEST_F(Sources, EnvironmentAndCommandLineSources_ComeAfterTheManifestsAndClearDropsThem) {
    m_a.add_rule(always("", 500));
    ProcessOptions env;
    env.env["VCPKG_BINARY_SOURCES"] = "clear;" + source(m_b);
    HostRun run = run_host_fetch(write_manifest(source(m_a)), {}, env);
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    EXPECT_TRUE(m_a.requests().empty()) << "clear in the environment dropped the manifest's source";
    EXPECT_FALSE(m_b.requests().empty());

    fs::remove_all(m_dir / "cache");
    HostRun cli = run_host_fetch(write_manifest(source(m_a)), {"--binary-sources", "clear;" + source(m_b)});
    ASSERT_EQ(cli.process.exit_code, 0) << cli.process.err;

    HostRun bad = run_host_fetch(write_manifest(source(m_a)), {"--binary-sources", "bogus,x"});
    EXPECT_EQ(bad.process.exit_code, 2);
    EXPECT_NE(bad.process.err.find("binary source 'bogus': unknown binary provider type"), std::string::npos)
        << bad.process.err;
}

// The requests `server` got for `artifact`'s path.
std::size_t requests_for(const FaultServer &server, const TestArtifact &artifact) {
    std::size_t n = 0;
    for (const auto &r : server.requests()) n += r.path == "/" + artifact.relative_path();
    return n;
}

// vcpkg always reads its default cache ($VCPKG_DEFAULT_BINARY_CACHE, else
// $XDG_CACHE_HOME/vcpkg/archives, else ~/.cache/vcpkg/archives), first of
// all, unless `clear` comes after it.
TEST_F(Sources, DefaultCacheIsReadFirst_UnlessClearComesAfterIt) {
    const fs::path home = fs::path(m_dir / "home");
    const TestArtifact &a = m_artifacts[0];
    const std::string relative = a.abi.substr(0, 2) + "/" + a.abi + ".zip";
    write_blob((home / ".cache/vcpkg/archives" / relative).string(), a.seed, a.size);
    ProcessOptions env;
    env.env["HOME"] = home.string();
    env.env["XDG_CACHE_HOME"] = std::nullopt;
    env.env["VCPKG_DEFAULT_BINARY_CACHE"] = std::nullopt;
    HostRun run = run_host_fetch(write_manifest(source(m_a)), {}, env);
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(sha256_file_hex(cached(i)), m_artifacts[i].sha256);
    EXPECT_EQ(requests_for(m_a, a), 0u) << "the default cache had it: " << run.json["blobs"][0];
    EXPECT_NE(run.json["blobs"][0]["source"].get<std::string>().find("/.cache/vcpkg/archives"), std::string::npos)
        << run.json["blobs"][0];
    // A blob the default cache does not have is a miss like any other (in
    // sources_tried), but one that says nothing on stderr: most are not there.
    ASSERT_EQ(run.json["blobs"][1]["sources_tried"].size(), 1u) << run.json["blobs"][1];
    EXPECT_NE(run.json["blobs"][1]["sources_tried"][0].get<std::string>().find("default"), std::string::npos);
    EXPECT_EQ(run.process.err.find("could not be fetched"), std::string::npos) << run.process.err;

    // $VCPKG_DEFAULT_BINARY_CACHE, else $XDG_CACHE_HOME/vcpkg/archives.
    for (const auto &[name, value, dir] :
         std::vector<std::tuple<std::string, fs::path, fs::path>>{{"VCPKG_DEFAULT_BINARY_CACHE", fs::path(m_dir / "dbc"), fs::path(m_dir / "dbc")},
                                                                  {"XDG_CACHE_HOME", fs::path(m_dir / "xdg"), fs::path(m_dir / "xdg/vcpkg/archives")}}) {
        write_blob((dir / relative).string(), a.seed, a.size);
        ProcessOptions other = env;
        other.env["HOME"] = m_dir / "nohome";
        other.env[name] = value.string();
        fs::remove_all(m_dir / "cache");
        const std::size_t before = requests_for(m_a, a);
        HostRun r = run_host_fetch(write_manifest(source(m_a)), {}, other);
        ASSERT_EQ(r.process.exit_code, 0) << r.process.err;
        EXPECT_EQ(requests_for(m_a, a), before) << name;
        EXPECT_EQ(sha256_file_hex(cached(0)), a.sha256);
    }

    fs::remove_all(m_dir / "cache");
    const std::size_t before = requests_for(m_a, a);
    HostRun cleared = run_host_fetch(write_manifest("clear;" + source(m_a)), {}, env);
    ASSERT_EQ(cleared.process.exit_code, 0) << cleared.process.err;
    EXPECT_EQ(requests_for(m_a, a), before + 1) << "clear dropped the default cache";
    ProcessOptions with_env = env;
    with_env.env["VCPKG_BINARY_SOURCES"] = "clear;" + source(m_b);
    fs::remove_all(m_dir / "cache");
    HostRun env_cleared = run_host_fetch(write_manifest(source(m_a)), {}, with_env);
    ASSERT_EQ(env_cleared.process.exit_code, 0) << env_cleared.process.err;
    EXPECT_EQ(requests_for(m_b, a), 1u) << "a clear in VCPKG_BINARY_SOURCES drops it too";
}

// A default cache directory that does not exist is skipped, as vcpkg skips it
// (it only creates it when it writes there); one that vcpkg would refuse
// ($VCPKG_DEFAULT_BINARY_CACHE naming no directory) is skipped with a warning.
TEST_F(Sources, DefaultCacheThatDoesNotExist_IsSkipped) {
    ProcessOptions env;
    env.env["HOME"] = m_dir / "fresh-home";
    env.env["XDG_CACHE_HOME"] = std::nullopt;
    env.env["VCPKG_DEFAULT_BINARY_CACHE"] = std::nullopt;
    HostRun run = run_host_fetch(write_manifest(source(m_a)), {}, env);
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    for (const auto &b : run.json["blobs"]) EXPECT_TRUE(b["sources_tried"].empty()) << b;
    EXPECT_EQ(run.process.err.find("warning"), std::string::npos) << run.process.err;
    EXPECT_FALSE(fs::exists(m_dir / "fresh-home")) << "blobfetch only reads: it creates no cache directory";

    env.env["VCPKG_DEFAULT_BINARY_CACHE"] = m_dir / "no-such-dir";
    fs::remove_all(m_dir / "cache");
    HostRun bad = run_host_fetch(write_manifest(source(m_a)), {}, env);
    ASSERT_EQ(bad.process.exit_code, 0) << bad.process.err;
    EXPECT_NE(bad.process.err.find("VCPKG_DEFAULT_BINARY_CACHE"), std::string::npos) << bad.process.err;
    EXPECT_NE(bad.process.err.find("no-such-dir"), std::string::npos) << bad.process.err;
}

// vcpkg reads every files (and default) directory first, then the http and
// x-azblob templates, whatever the order they were written in.
TEST_F(Sources, FilesAreReadBeforeHttp_WhateverTheWrittenOrder) {
    const std::string dir = m_dir / "archives";
    for (const auto &a : m_artifacts)
        write_blob(dir + "/" + a.abi.substr(0, 2) + "/" + a.abi + ".zip", a.seed, a.size);
    HostRun run = run_host_fetch(write_manifest(source(m_a) + ";files," + dir), {"--binary-sources", source(m_b)});
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(sha256_file_hex(cached(i)), m_artifacts[i].sha256);
    EXPECT_TRUE(m_a.requests().empty()) << m_a.requests().size() << " requests";
    EXPECT_TRUE(m_b.requests().empty());
}

TEST_F(Sources, XScript_DownloadsVerifiesSha512_AndFailsWithoutTouchingDst) {
    const std::string content = blob_content(m_artifacts[0].seed, m_artifacts[0].size);
    const std::string url = m_a.base_url() + "/" + m_artifacts[0].relative_path();
    const std::string dst = m_dir / "downloads/asset.tar.gz";
    fs::create_directories(m_dir / "downloads");
    ProcessResult ok = run_process({host_binary(), "x-script", url, sha512_hex(content), dst});
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_TRUE(read_file(dst) == content);
    for (const auto &e : fs::directory_iterator(m_dir / "downloads")) {
        const std::string n = e.path().filename().string();
        EXPECT_TRUE(n == "asset.tar.gz" || n == ".blobfetch-staging") << "left behind: " << n;
    }
    // vcpkg's {dst} ends in ".<pid>.part": a name the engine itself never uses.
    const std::string vcpkg_dst = m_dir / "downloads/asset.tar.gz.4242.part";
    ProcessResult again = run_process({host_binary(), "x-script", url, sha512_hex(content), vcpkg_dst});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(read_file(vcpkg_dst) == content);

    const std::string other = m_dir / "downloads/other.tar.gz";
    // A URL with raw spaces (vcpkg passes them on): percent-encoded, as
    // vcpkg and curl do. (It once failed with "URL using bad/illegal format"
    // without sending a request.)
    // (Other bytes than above: x-script finds staged content by its SHA-512.)
    const std::string spaced_content = blob_content(777, 3000);
    m_a.add_blob("/with%20space/asset%20one.tar.gz", 777, 3000);
    const std::string spaced = m_dir / "downloads/spaced.tar.gz";
    ProcessResult space = run_process({host_binary(), "x-script", m_a.base_url() + "/with space/asset one.tar.gz",
                                       sha512_hex(spaced_content), spaced});
    ASSERT_EQ(space.exit_code, 0) << space.err;
    EXPECT_TRUE(read_file(spaced) == spaced_content);

    ProcessResult wrong = run_process({host_binary(), "x-script", url, std::string(128, 'a'), other});
    EXPECT_EQ(wrong.exit_code, 1);
    EXPECT_NE(wrong.err.find("SHA-512 mismatch"), std::string::npos) << wrong.err;
    EXPECT_FALSE(fs::exists(other));

    ProcessResult bad = run_process({host_binary(), "x-script", url, "not-a-hash", other});
    EXPECT_EQ(bad.exit_code, 2);
    ProcessResult missing = run_process({host_binary(), "x-script", m_a.base_url() + "/nothing", std::string(128, 'a'), other});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("HTTP 404"), std::string::npos) << missing.err;
}

// vcpkg's {dst} names of up to 255 bytes (the file-name limit) are placed,
// by a link and by a copy. (x-script's temporaries beside {dst} were named
// `<dst>.~bf<pid>-link`: past the limit for a {dst} of 240 bytes and more,
// and x-script failed with "File name too long".)
TEST_F(Sources, XScript_DstNameOf255Bytes_IsPlacedByLinkAndByCopy) {
    const std::string content = blob_content(m_artifacts[1].seed, m_artifacts[1].size);
    const std::string url = m_a.base_url() + "/" + m_artifacts[1].relative_path();
    fs::create_directories(m_dir / "downloads");
    // Each length: linked at the first name, copied to the second (the staged
    // asset is linked elsewhere by then).
    for (const std::size_t length : {240, 251, 255}) {
        std::vector<std::string> dsts;
        for (const char c : {'a', 'b'}) {
            dsts.push_back(m_dir / ("downloads/" + std::string(length - 10, c) + ".4242.part"));
            ASSERT_EQ(fs::path(dsts.back()).filename().string().size(), length);
            ProcessResult r = run_process({host_binary(), "x-script", url, sha512_hex(content), dsts.back()});
            ASSERT_EQ(r.exit_code, 0) << length << " bytes: " << r.err;
            EXPECT_TRUE(read_file(dsts.back()) == content);
        }
        for (const auto &d : dsts) fs::remove(d);
    }
    for (const auto &e : fs::directory_iterator(m_dir / "downloads"))
        EXPECT_EQ(e.path().filename().string().find(".~bf"), std::string::npos) << "left behind: " << e.path();
}

// The staged asset is hard-linked at {dst}; vcpkg (or anyone) editing that
// file in place edits the staged asset too. A later x-script, even with
// `verify_cached_hash: false` (the engine then trusts the staged file by its
// size), checks the SHA-512 of the bytes it places: the altered asset is
// discarded and fetched again, never placed. (x-script once placed the
// altered bytes and exited 0.)
TEST_F(Sources, XScript_StagedAssetAlteredThroughAnEarlierDst_IsFetchedAgainNeverPlaced) {
    const std::string content = blob_content(m_artifacts[0].seed, m_artifacts[0].size);
    const std::string sha512 = sha512_hex(content);
    const std::string url = m_a.base_url() + "/" + m_artifacts[0].relative_path();
    fs::create_directories(m_dir / "downloads");
    const std::string first = m_dir / "downloads/first.tar.gz";
    ProcessResult placed = run_process({host_binary(), "x-script", url, sha512, first});
    ASSERT_EQ(placed.exit_code, 0) << placed.err;
    struct stat at_dst {}, staged {};
    ASSERT_EQ(::stat(first.c_str(), &at_dst), 0);
    ASSERT_EQ(::stat((m_dir / ("downloads/.blobfetch-staging/" + sha512)).c_str(), &staged), 0);
    ASSERT_EQ(at_dst.st_ino, staged.st_ino) << "the staged asset is expected to be linked at {dst}";
    {
        std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);  // in place: the same inode
        f.seekp(1000);
        f.write("ALTERED", 7);
    }
    const std::string altered = read_file(first);
    ASSERT_FALSE(altered == content);
    const std::size_t requests_before = m_a.requests().size();

    for (const char *name : {"second.tar.gz", "third.tar.gz"}) {
        const std::string dst = m_dir / ("downloads/" + std::string(name));
        ProcessOptions trusting;
        trusting.env["BLOBFETCH_OPTIONS"] = R"({"verify_cached_hash": false})";
        ProcessResult r = run_process({host_binary(), "x-script", url, sha512, dst}, trusting);
        ASSERT_TRUE(!fs::exists(dst) || !(read_file(dst) == altered)) << name << ": the altered bytes were placed";
        ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
        EXPECT_TRUE(read_file(dst) == content) << name;
    }
    EXPECT_GT(m_a.requests().size(), requests_before) << "the altered asset was fetched again";
}

// `gc --all` run over and over beside x-script (real processes) never makes
// it fail: gc is kept out of the staging directory from before the asset's
// fetch until it is placed. (Nothing held it between the fetch and the
// placement: gc removed it there, and x-script failed with "... was removed
// before it could be placed" when that happened on all three of its tries:
// 6 to 10 runs in 300 here.)
TEST_F(Sources, XScript_WithGcAllRunningOverAndOver_AlwaysPlacesTheRightBytes) {
    const std::string content = blob_content(m_artifacts[1].seed, m_artifacts[1].size);
    const std::string sha512 = sha512_hex(content);
    const std::string url = m_a.base_url() + "/" + m_artifacts[1].relative_path();
    const std::string downloads = m_dir / "downloads";
    fs::create_directories(downloads);
    BackgroundProcess gc_loop({"sh", "-c", "while [ ! -e \"$1\" ]; do \"$0\" gc --all \"$2\" >/dev/null 2>&1; done",
                               host_binary(), m_dir / "stop", downloads},
                              {}, m_dir / "loop.out", m_dir / "loop.err");
    int failed = 0;
    std::string failures;
    for (int i = 0; i < 300; ++i) {
        const std::string dst = downloads + "/asset.tar.gz." + std::to_string(1000 + i) + ".part";
        ProcessResult r = run_process({host_binary(), "x-script", url, sha512, dst, "-v"});
        if (r.exit_code != 0 || !(read_file(dst) == content)) {
            ++failed;
            failures += "run " + std::to_string(i) + ": exit " + std::to_string(r.exit_code) + ": " + r.err + "\n";
        }
        fs::remove(dst);  // nothing links to the staged asset any more: gc --all may take it
    }
    write_file(m_dir / "stop", "");
    gc_loop.wait();
    EXPECT_EQ(failed, 0) << failures;
}

// x-script started by init itself (a container's `sh -c` entrypoint, where
// the shell is PID 1 and execs nothing): its parent is init from the
// start, which is no caller gone. (It once downloaded everything, then said
// "the caller is gone", placed nothing and exited 130.)
TEST_F(Sources, XScript_WhoseParentIsInit_IsNotOrphaned) {
    const std::string content = blob_content(778, 5000);
    m_a.add_blob("/init-asset", 778, 5000);
    const std::string dst = m_dir / "downloads/init-asset";
    fs::create_directories(m_dir / "downloads");
    ProcessResult probe = run_process({"unshare", "--fork", "--pid", "--mount-proc", "true"});
    if (probe.exit_code != 0) GTEST_SKIP() << "no PID namespaces here (needs root): " << probe.err;
    ProcessResult r = run_process({"unshare", "--fork", "--pid", "--mount-proc", "sh", "-c",
                                   "\"$0\" x-script \"$1\" \"$2\" \"$3\" -v", host_binary(),
                                   m_a.base_url() + "/init-asset", sha512_hex(content), dst});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::exists(dst) && read_file(dst) == content) << r.err;
}

// An error answer whose body never ends is read only up to a bound (64 KiB
// or 5 s by default), then its status is acted on: a 404 is a miss and the
// next source is tried; a redirect is followed. (They were read forever: the
// fetch never ended.)
TEST_F(Sources, EndlessErrorBodies_AreCutAtTheirBound_A404IsAMissAndTheNextSourceServes) {
    const std::string p0 = "/" + m_artifacts[0].relative_path(), p1 = "/" + m_artifacts[1].relative_path(),
                      p2 = "/" + m_artifacts[2].relative_path();
    m_a.add_rule(endless(p0, 404));
    m_a.add_rule(endless(p1, 404, /*bytes_per_second=*/200));  // a trickle: cut by the time bound
    m_a.add_rule(endless(p2, 301, 0, m_b.base_url() + p2));    // a redirect whose page never ends
    BoundedRun run = run_bounded({host_binary(), "fetch", write_manifest(source(m_a) + ";" + source(m_b)), "--json"},
                                 m_dir.path());
    ASSERT_TRUE(run.ended) << "still reading an endless error page after " << run.took.count() << " ms:\n" << run.err;
    ASSERT_EQ(run.exit_code, 0) << run.err;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(sha256_file_hex(cached(i)), m_artifacts[i].sha256) << i;
    const auto &blobs = run.json["blobs"];
    for (std::size_t i : {0u, 1u}) {
        EXPECT_NE(blobs[i]["source"].get<std::string>().find(std::to_string(m_b.port())), std::string::npos) << blobs[i];
        ASSERT_EQ(blobs[i]["sources_tried"].size(), 1u) << blobs[i];
        EXPECT_NE(blobs[i]["sources_tried"][0].get<std::string>().find("HTTP 404"), std::string::npos) << blobs[i];
    }
    EXPECT_TRUE(blobs[2]["sources_tried"].empty()) << "the redirect was followed: " << blobs[2];
    EXPECT_LT(run.took, std::chrono::seconds(15)) << "the trickle is cut after 5 s";
    EXPECT_EQ(m_a.wait_for_requests(3).size(), 3u) << "one request each: a miss is not retried";
}

// An endless 503 is cut at the bound each time, retried as any 503, and then
// fails naming the URL and the status.
TEST_F(Sources, EndlessErrorBody503_IsRetriedThenFailsClearly) {
    const std::string p0 = "/" + m_artifacts[0].relative_path();
    m_a.add_rule(endless(p0, 503));
    BoundedRun run = run_bounded(
        {host_binary(), "fetch", write_manifest(source(m_a), {{"retries", 2}}), "--json"},
        m_dir.path());
    ASSERT_TRUE(run.ended) << "still reading an endless 503 page after " << run.took.count() << " ms:\n" << run.err;
    EXPECT_EQ(run.exit_code, 1) << run.err;
    const std::string msg = run.json["blobs"][0]["message"];
    EXPECT_NE(msg.find("HTTP 503 from " + m_a.base_url() + p0), std::string::npos) << msg;
    std::size_t tries = 0;
    for (const auto &r : m_a.wait_for_requests(3 + 2)) tries += r.path == p0;
    EXPECT_EQ(tries, 3u) << "the first try and two retries";
    EXPECT_LT(run.took, std::chrono::seconds(15));
    for (std::size_t i : {1u, 2u}) EXPECT_EQ(sha256_file_hex(cached(i)), m_artifacts[i].sha256) << "the others are fine";
}

// x-script (a blob of unknown size) against a 200 without Content-Length
// whose body never ends: it stops at max_blob_size, naming the URL and the
// bound, and leaves no file larger than the bound.
TEST_F(Sources, XScript_EndlessBodyOfUnknownSize_StopsAtMaxBlobSize_LeavingNoHugeFile) {
    m_a.add_blob("/endless.tar.gz", 779, 1000);
    m_a.add_rule({"/endless.tar.gz", -1, -1, {FaultKind::endless_body, 0, 0, "", ""}});
    const std::string url = m_a.base_url() + "/endless.tar.gz";
    const std::string dst = m_dir / "downloads/endless.tar.gz";
    fs::create_directories(m_dir / "downloads");
    constexpr std::int64_t kBound = 3 << 20;
    ProcessOptions env;
    env.env["BLOBFETCH_OPTIONS"] = nlohmann::json{{"max_blob_size", kBound}}.dump();
    BoundedRun run = run_bounded({host_binary(), "x-script", url, std::string(128, 'a'), dst}, m_dir.path(),
                                 std::chrono::seconds(30), env);
    ASSERT_TRUE(run.ended) << run.err;
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_NE(run.err.find(url), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("max_blob_size (" + std::to_string(kBound) + " bytes)"), std::string::npos) << run.err;
    EXPECT_FALSE(fs::exists(dst));
    EXPECT_LE(largest_file(m_dir / "downloads"), static_cast<std::uintmax_t>(kBound)) << list_files(m_dir / "downloads");
}

// x-script's own default cap is 8 GiB (vcpkg's assets are a few GiB at
// most), not the plugin's 1 TiB: a larger announced size is refused before
// anything is written. (It set out to download it.)
TEST_F(Sources, XScript_DefaultMaxBlobSizeIs8GiB_ALargerAssetIsRefusedAtOnce) {
    constexpr std::uint64_t kHuge = (std::uint64_t{8} << 30) + 1;
    m_a.add_blob("/huge.tar.gz", 780, kHuge);
    m_a.set_rate_limit(1 << 20);  // (so that a run that sets out to download it writes little)
    const std::string url = m_a.base_url() + "/huge.tar.gz";
    fs::create_directories(m_dir / "downloads");
    ProcessOptions env;
    env.env["BLOBFETCH_OPTIONS"] = std::nullopt;
    BoundedRun run = run_bounded({host_binary(), "x-script", url, std::string(128, 'a'), m_dir / "downloads/huge"},
                                 m_dir.path(), std::chrono::seconds(20), env);
    ASSERT_TRUE(run.ended) << "still downloading an asset over 8 GiB after " << run.took.count() << " ms";
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_NE(run.err.find("max_blob_size (8589934592)"), std::string::npos) << run.err;
    EXPECT_EQ(largest_file(m_dir / "downloads"), 0u) << list_files(m_dir / "downloads");
    // Options that set max_blob_size (or anything else) keep x-script's default unless they name it.
    env.env["BLOBFETCH_OPTIONS"] = R"({"retries": 0})";
    BoundedRun other = run_bounded({host_binary(), "x-script", url, std::string(128, 'a'), m_dir / "downloads/huge"},
                                   m_dir.path(), std::chrono::seconds(20), env);
    ASSERT_TRUE(other.ended);
    EXPECT_NE(other.err.find("max_blob_size (8589934592)"), std::string::npos) << other.err;
}

// A blob of unknown size never fills the disk: writing stops before the file
// system keeps less than min_free_space free (checked every few MiB, not on
// every write). Here the reserve is more than the disk has, so nothing may
// be written at all.
TEST_F(Sources, XScript_EndlessBodyOfUnknownSize_StopsBeforeTheDiskKeepsLessThanMinFreeSpace) {
    m_a.add_blob("/fill.tar.gz", 781, 1000);
    m_a.add_rule({"/fill.tar.gz", -1, -1, {FaultKind::endless_body, 0, 0, "", ""}});
    const std::string url = m_a.base_url() + "/fill.tar.gz";
    fs::create_directories(m_dir / "downloads");
    struct statvfs vfs {};
    ASSERT_EQ(::statvfs((m_dir / "downloads").c_str(), &vfs), 0);
    const std::int64_t reserve = static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize) +
                                 (std::int64_t{1} << 40);
    ProcessOptions env;
    env.env["BLOBFETCH_OPTIONS"] = nlohmann::json{{"min_free_space", reserve}}.dump();
    BoundedRun run = run_bounded({host_binary(), "x-script", url, std::string(128, 'a'), m_dir / "downloads/fill"},
                                 m_dir.path(), std::chrono::seconds(30), env);
    ASSERT_TRUE(run.ended) << run.err;
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_NE(run.err.find(url), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("min_free_space"), std::string::npos) << run.err;
    EXPECT_EQ(largest_file(m_dir / "downloads"), 0u) << "nothing written past the reserve:\n" << list_files(m_dir / "downloads");
}

}  // namespace
}  // namespace blobfetch::test
