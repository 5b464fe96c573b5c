// A cache shared by several users: another user's leftovers (a 0600 partial
// file and record left by a crash) never make a blob fail. A fresh start
// makes a new file; where the leftover cannot be removed (a sticky
// directory), the blob goes to a private name and the leftover is named.
// The host runs as `nobody` (setpriv) while the leftovers belong to root.
#include <csignal>
#include <filesystem>
#include <functional>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hash/sha256.h"
#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"
#include "support/wait.h"
#include "io/file.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

class SharedCache : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "playing two users needs root";
        if (run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "true"}).exit_code != 0)
            GTEST_SKIP() << "setpriv cannot run a command as nobody here";
        ::chmod(m_dir.path().c_str(), 0755);
    }
    TempDir m_dir;
    FaultServer m_server;
};

TEST_P(SharedCache, AnotherUsersLeftoverPartAndRecord_NeverFailTheBlob) {
    const bool sticky = GetParam();
    const std::string cache = m_dir / "cache";
    const std::string team = cache + "/team";
    fs::create_directories(team);
    ::chmod(cache.c_str(), 01777);
    ::chmod(team.c_str(), sticky ? 01777 : 0777);
    std::vector<TestArtifact> artifacts = {{"big", abi_key("big"), 61, 5 * 65536, {}},
                                           {"small", abi_key("small"), 62, 3000, {}}};
    nlohmann::json m = make_manifest(m_server.base_url(), cache, artifacts, {{"chunk_size", 65536}});
    m["cache_path"] = "team/{sha}.zip";
    m["sources"][0]["url"] = m_server.base_url() + "/{name}";
    for (std::size_t i = 0; i < artifacts.size(); ++i) {
        auto &a = artifacts[i];
        m_server.add_blob("/" + a.name, a.seed, a.size);
        m["artifacts"][i]["sha256"] = sha256_hex(blob_content(a.seed, a.size));
        // A crash of root's fetch left these behind, owner-only.
        for (const char *suffix : {".part", ".dlstate"}) {
            const std::string f = team + "/" + a.abi + ".zip" + suffix;
            write_file(f, "root's leftover");
            ::chmod(f.c_str(), 0600);
        }
    }
    write_file(m_dir / "m.json", m.dump());
    ::chmod((m_dir / "m.json").c_str(), 0644);

    ProcessResult run = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", host_binary(),
                                     "fetch", m_dir / "m.json", "--no-progress"});
    ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
    for (const auto &a : artifacts) {
        const std::string published = team + "/" + a.abi + ".zip";
        EXPECT_TRUE(read_file(published) == blob_content(a.seed, a.size)) << a.name;
        struct stat st {};
        ASSERT_EQ(::stat(published.c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, 65534u) << "published by the user who fetched";
    }
    if (sticky) {
        // Root's files stay (nobody may remove them); the message names them.
        EXPECT_NE(run.err.find("belongs to another user"), std::string::npos) << run.err;
        EXPECT_NE(run.err.find(team + "/" + artifacts[0].abi + ".zip.part"), std::string::npos) << run.err;
        for (const auto &e : fs::directory_iterator(team)) {
            const std::string n = e.path().filename().string();
            EXPECT_TRUE(n.find('-') == std::string::npos || !n.ends_with(".part")) << "a private leftover: " << n;
        }
    } else {
        // In a plain shared directory the leftovers are replaced by fresh files.
        EXPECT_FALSE(fs::exists(team + "/" + artifacts[0].abi + ".zip.part"));
        EXPECT_FALSE(fs::exists(team + "/" + artifacts[0].abi + ".zip.dlstate"));
    }
}

// A lock file made under a strict umask (root, umask 077) is still 0644, so
// the next user shares the lock; one that another user made unreadable (an
// older blobfetch) is worked around with private files, said in a warning.
TEST_P(SharedCache, LockFileOfAnotherUserWithAStrictUmask_NeverFailsTheNextUser) {
    const std::string cache = m_dir / "cache";
    fs::create_directories(cache + "/team");
    ::chmod(cache.c_str(), 01777);
    ::chmod((cache + "/team").c_str(), GetParam() ? 01777 : 0777);
    for (const char *name : {"first", "second", "third"}) m_server.add_blob(std::string("/") + name, 70, 4000);
    auto manifest = [&](const char *name) {
        nlohmann::json m = make_manifest(m_server.base_url(), cache, {});
        m["cache_path"] = "team/{name}";
        m["sources"][0]["url"] = m_server.base_url() + "/{name}";
        m["artifacts"] = {{{"name", name}, {"sha", abi_key(name)}, {"size", 4000}}};
        const std::string path = m_dir / (std::string(name) + ".json");
        write_file(path, m.dump());
        ::chmod(path.c_str(), 0644);
        return path;
    };
    // Root fetches with umask 077.
    ProcessResult first = run_process({"sh", "-c", "umask 077 && exec \"$0\" fetch \"$1\" --no-progress", host_binary(),
                                       manifest("first")});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    struct stat st {};
    ASSERT_EQ(::stat((cache + "/team/.download.lock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0666u) << "writable by the other users of the cache (a lock needs that)";
    const auto as_nobody = [&](const std::string &m) {
        return run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", host_binary(), "fetch", m,
                            "--no-progress"});
    };
    ProcessResult second = as_nobody(manifest("second"));
    ASSERT_EQ(second.exit_code, 0) << second.err;
    // A read-only one (as older versions left it): private files, a warning.
    m_server.add_blob("/fourth", 71, 4000);
    ::chmod((cache + "/team/.download.lock").c_str(), 0644);
    ProcessResult fourth = as_nobody(manifest("fourth"));
    ASSERT_EQ(fourth.exit_code, 0) << fourth.err;
    EXPECT_NE(fourth.err.find("is not writable for this one"), std::string::npos) << fourth.err;
    EXPECT_TRUE(read_file(cache + "/team/fourth") == blob_content(71, 4000));
    // An unreadable one (as older versions left it): private files, a warning.
    ::chmod((cache + "/team/.download.lock").c_str(), 0600);
    ProcessResult third = as_nobody(manifest("third"));
    ASSERT_EQ(third.exit_code, 0) << third.err;
    EXPECT_NE(third.err.find("belongs to another user who made it unreadable"), std::string::npos) << third.err;
    EXPECT_TRUE(read_file(cache + "/team/third") == blob_content(70, 4000));
}

// Root's directory, symbolic link or FIFO named .download.lock in the shared
// directory (which nobody may remove where the directory is sticky) is worked
// around as an unwritable lock file: another user's fetch downloads in
// private files and says so, naming the path and what is there; the FIFO
// never makes it wait. (Each once failed every blob there, for everybody,
// for as long as it stayed.)
TEST_P(SharedCache, ALockFileThatIsNoFile_NeverFailsABlob_PrivateFilesAndAWarning) {
    const std::string cache = m_dir / "cache";
    const std::string team = cache + "/team";
    const std::string lock = team + "/.download.lock";
    const std::vector<std::pair<std::string, std::function<void()>>> cases = {
        {"is a directory", [&] { fs::create_directory(lock); }},
        {"is a symbolic link", [&] { fs::create_symlink(m_dir / "elsewhere", lock); }},
        {"is a FIFO", [&] { ASSERT_EQ(::mkfifo(lock.c_str(), 0666), 0); }}};
    int seed = 80;
    for (const auto &[kind, make] : cases) {
        fs::remove_all(cache);
        fs::create_directories(team);
        ::chmod(cache.c_str(), 01777);
        ::chmod(team.c_str(), GetParam() ? 01777 : 0777);
        make();  // root's
        const std::string name = "blob" + std::to_string(++seed);
        m_server.add_blob("/" + name, static_cast<std::uint64_t>(seed), 70000);
        nlohmann::json m = make_manifest(m_server.base_url(), cache, {});
        m["cache_path"] = "team/{name}";
        m["sources"][0]["url"] = m_server.base_url() + "/{name}";
        m["options"] = {{"chunk_size", 65536}};
        m["artifacts"] = {{{"name", name}, {"sha", abi_key(name)}, {"size", 70000}}};
        write_file(m_dir / "m.json", m.dump());
        ::chmod((m_dir / "m.json").c_str(), 0644);
        BackgroundProcess fetch({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", host_binary(), "fetch",
                                 m_dir / "m.json", "--no-progress"},
                                {}, m_dir / "fetch.out", m_dir / "fetch.err");
        const bool ended = eventually([&] { return fetch.exited(); }, std::chrono::seconds(60));
        EXPECT_TRUE(ended) << kind << ": the fetch waits on the lock file";
        if (!ended) UniqueFd writer(::open(lock.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        const std::string err = read_file(m_dir / "fetch.err");
        EXPECT_EQ(fetch.wait(), 0) << kind << ": " << err;
        EXPECT_TRUE(fs::exists(team + "/" + name) &&
                    read_file(team + "/" + name) == blob_content(static_cast<std::uint64_t>(seed), 70000))
            << kind;
        EXPECT_NE(err.find("'" + lock + "' " + kind), std::string::npos) << err;
        EXPECT_NE(err.find("private"), std::string::npos) << err;
        EXPECT_FALSE(fs::exists(m_dir / "elsewhere")) << "created through the link";
    }
}

// x-script in a downloads directory other users can write in: a staging
// directory another user made is not used (its owner could swap the
// verified file before it is linked to {dst}); this user's own is, and the
// bytes at {dst} are exactly the asset's. (Root once staged, verified and
// linked through nobody's directory: nobody's file ended up at {dst}.)
TEST_P(SharedCache, XScript_NeverStagesInADirectoryAnotherUserControls) {
    const std::string downloads = m_dir / "downloads";
    fs::create_directories(downloads);
    ::chmod(downloads.c_str(), GetParam() ? 01777 : 0777);
    ASSERT_EQ(run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
                           "umask 0 && mkdir \"$0/.blobfetch-staging\"", downloads})
                  .exit_code,
              0);
    m_server.add_blob("/asset.tar.gz", 71, 300000);
    const std::string content = blob_content(71, 300000);
    const std::string dst = downloads + "/asset.tar.gz.4242.part";
    ProcessResult r = run_process({host_binary(), "x-script", m_server.base_url() + "/asset.tar.gz", sha512_hex(content),
                                   dst});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(read_file(dst) == content);
    EXPECT_TRUE(fs::is_empty(downloads + "/.blobfetch-staging")) << "staged in another user's directory";
    struct stat st {};
    ASSERT_EQ(::stat((downloads + "/.blobfetch-staging-0").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
}

// gc as another user, in a directory whose lock file it cannot open (0600,
// root's): it cannot exclude the fetch running there, so it removes nothing
// there. (It once took the unreadable lock for one it held, and removed a
// live download's partial file and the held lock file.)
TEST_P(SharedCache, GcWhereTheLockCannotBeTaken_RemovesNothingThere) {
    const std::string team = m_dir / "cache/team";
    fs::create_directories(team);
    ::chmod((m_dir / "cache").c_str(), 0755);
    ::chmod(team.c_str(), GetParam() ? 01777 : 0777);
    const std::string lock_file = team + "/.download.lock";
    UniqueFd lock(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(lock);
    ::fchmod(lock.get(), 0600);
    ASSERT_TRUE(lock_whole_file(lock.get()));  // root's fetch runs there
    write_file(team + "/blob.bin.part", "a live download without a record yet");
    ::chmod((team + "/blob.bin.part").c_str(), 0666);
    ProcessResult gc = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", host_binary(), "gc",
                                    m_dir / "cache"});
    EXPECT_EQ(gc.exit_code, 0) << gc.err;
    EXPECT_TRUE(fs::exists(team + "/blob.bin.part")) << gc.out;
    EXPECT_TRUE(fs::exists(lock_file)) << gc.out;
    EXPECT_NE(gc.out.find("cannot be told"), std::string::npos) << gc.out;
}

INSTANTIATE_TEST_SUITE_P(Directory, SharedCache, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) { return info.param ? "Sticky" : "Plain"; });

}  // namespace
}  // namespace blobfetch::test

namespace blobfetch::test {
namespace {

// Two fetches without locking (as where locks do nothing, or with "locking":
// false), each PID 1 of its own PID namespace, like two containers sharing a
// cache: their private names still differ (a random part, and a name that
// exists is never taken over), so neither publishes the other's unfinished
// file. (Both once named theirs "<blob>.~bf1-0.part"; the second unlinked the
// first's, and the first published the second's partial bytes, exit 0.)
TEST(SharedCacheNamespaces, TwoFetchesAsPid1OfTheirOwnNamespaces_NeverPublishTheOthersFile) {
    if (::geteuid() != 0 || run_process({"unshare", "--pid", "--fork", "true"}).exit_code != 0)
        GTEST_SKIP() << "unshare --pid needs root here";
    TempDir dir;
    FaultServer server;
    constexpr std::uint64_t kSize = 2 << 20;
    server.add_blob("/a/blob", 81, kSize);
    server.add_blob("/b/blob", 81, kSize);
    server.set_rate_limit(1 << 20);  // A takes about two seconds
    FaultRule stall;
    stall.path = "/b/blob";
    stall.times = -1;
    stall.fault.kind = FaultKind::stall;
    stall.fault.after_bytes = 100000;
    server.add_rule(stall);
    const std::string sha = sha256_hex(blob_content(81, kSize));
    auto manifest = [&](const std::string &name, const std::string &path) {
        nlohmann::json m;
        m["version"] = 1;
        m["cache_dir"] = dir / "cache";
        m["cache_path"] = "{name}.bin";
        m["sources"] = {{{"url", server.base_url() + path}}};
        m["options"] = {{"locking", false}, {"retries", 0}, {"stall_min_speed", 0}};
        m["artifacts"] = {{{"name", "blob"}, {"sha", abi_key("blob")}, {"size", kSize}, {"sha256", sha}}};
        write_file(dir / name, m.dump());
        return dir / name;
    };
    const std::string a = manifest("a.json", "/a/blob"), b = manifest("b.json", "/b/blob");
    auto private_files = [&] {
        std::size_t n = 0;
        if (fs::exists(dir / "cache"))
            for (const auto &e : fs::directory_iterator(dir / "cache"))
                n += e.path().filename().string().find(".~bf1-") != std::string::npos;
        return n;
    };
    BackgroundProcess first({"unshare", "--pid", "--fork", host_binary(), "fetch", a, "-q", "--no-progress"}, {},
                            dir / "a.out", dir / "a.err");
    ASSERT_TRUE(eventually([&] { return private_files() == 1; })) << read_file(dir / "a.err");
    BackgroundProcess second({"unshare", "--pid", "--fork", "--kill-child", host_binary(), "fetch", b, "-q",
                              "--no-progress"},
                             {}, dir / "b.out", dir / "b.err");
    ASSERT_TRUE(eventually([&] {
        for (const auto &q : server.requests())
            if (q.path == "/b/blob") return true;
        return private_files() == 2;
    }));
    ASSERT_EQ(first.wait(), 0) << read_file(dir / "a.err");
    second.signal(SIGKILL);
    second.wait();
    EXPECT_EQ(sha256_file_hex(dir / "cache/blob.bin"), sha) << "the other fetch's unfinished file was published";
}

}  // namespace
}  // namespace blobfetch::test
