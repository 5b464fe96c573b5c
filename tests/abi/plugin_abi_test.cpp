// Loads the built plugin module exactly as a host does (dlopen + the one entry
// symbol) and exercises the C ABI table.
#include <blobfetch/fetch_provider.h>

#include <dlfcn.h>

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/process.h"

namespace {

using namespace blobfetch::test;

class PluginModule {
public:
    PluginModule() {
        m_handle = dlopen(BLOBFETCH_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
        if (m_handle) m_entry = reinterpret_cast<bf_get_provider_fn>(dlsym(m_handle, BF_ENTRY_SYMBOL));
    }
    ~PluginModule() {
        if (m_handle) dlclose(m_handle);
    }
    bf_get_provider_fn entry() const { return m_entry; }
    const bf_provider *provider() const {
        const bf_provider *p = nullptr;
        char err[256];
        return m_entry && m_entry(BF_ABI_VERSION, &p, err, sizeof err) == BF_OK ? p : nullptr;
    }

private:
    void *m_handle = nullptr;
    bf_get_provider_fn m_entry = nullptr;
};

TEST(PluginAbi, ExportsExactlyTheEntrySymbol) {
    auto r = run_process({"nm", "-D", "--defined-only", BLOBFETCH_PLUGIN_PATH});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> symbols;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        auto space = line.rfind(' ');
        if (space != std::string::npos) symbols.push_back(line.substr(space + 1));
    }
    ASSERT_EQ(symbols.size(), 1u) << r.out;
    EXPECT_EQ(symbols[0], "bf_get_provider");
}

TEST(PluginAbi, EntryPoint_UnsupportedVersionIsRefusedWithAMessage) {
    PluginModule m;
    ASSERT_NE(m.entry(), nullptr) << dlerror();
    for (uint32_t version : {0u, BF_ABI_VERSION + 1, 999u}) {
        const bf_provider *p = reinterpret_cast<const bf_provider *>(0x1);
        char err[256] = "unchanged";
        EXPECT_EQ(m.entry()(version, &p, err, sizeof err), BF_E_UNSUPPORTED_ABI);
        EXPECT_EQ(p, nullptr) << "the output handle is cleared on failure";
        EXPECT_NE(std::string(err).find("serves C ABI versions 1 to 1"), std::string::npos) << err;
        EXPECT_NE(std::string(err).find(std::to_string(version)), std::string::npos) << err;
    }
}

TEST(PluginAbi, EntryPoint_ErrorBufferIsTruncatedSafely) {
    PluginModule m;
    ASSERT_NE(m.entry(), nullptr);
    const bf_provider *p = nullptr;
    char err[8];
    std::memset(err, 'x', sizeof err);
    EXPECT_EQ(m.entry()(999, &p, err, sizeof err), BF_E_UNSUPPORTED_ABI);
    EXPECT_EQ(err[7], '\0');
    EXPECT_EQ(m.entry()(999, &p, nullptr, 0), BF_E_UNSUPPORTED_ABI);
}

TEST(PluginAbi, Table_DescribesItself) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->abi_version, BF_ABI_VERSION);
    EXPECT_GE(p->struct_size, sizeof(bf_provider));
    EXPECT_STRNE(p->plugin_version, "");
}

TEST(PluginAbi, SessionCreate_BadConfigIsRefusedWithAMessage) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    bf_session *s = reinterpret_cast<bf_session *>(0x1);
    char err[512] = "";
    EXPECT_EQ(p->session_create("{\"concurrency\": \"eight\"}", &s, err, sizeof err), BF_E_CONFIG);
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(std::string(err).find("concurrency"), std::string::npos) << err;
    EXPECT_EQ(p->session_create("{not json", &s, err, sizeof err), BF_E_CONFIG);
    EXPECT_EQ(s, nullptr);
    p->session_destroy(nullptr);  // allowed
}

TEST(PluginAbi, Fetch_ThroughTheTableFromFileUrls) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    TempDir dir;
    std::string sha = write_blob(dir / "src/a.bin", 7, 100000);
    std::string url = "file://" + dir.path() + "/src/a.bin";
    bf_session *s = nullptr;
    char err[256];
    ASSERT_EQ(p->session_create(nullptr, &s, err, sizeof err), BF_OK) << err;

    bf_blob blobs[2] = {};
    blobs[0].struct_size = sizeof(bf_blob);
    blobs[0].url = url.c_str();
    blobs[0].path = "pkg/a.bin";
    blobs[0].size = 100000;
    blobs[0].sha256 = sha.c_str();
    blobs[1] = blobs[0];
    blobs[1].path = "../escape.bin";  // refused on its own, the other blob proceeds
    bf_blob_result results[2] = {};
    results[0].struct_size = results[1].struct_size = sizeof(bf_blob_result);

    struct Seen {
        int calls = 0;
        int64_t last_done = -1;
        bool went_backwards = false;
    } seen;
    bf_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.user = &seen;
    cb.progress = [](void *user, const bf_progress *pr) -> int32_t {
        auto *s = static_cast<Seen *>(user);
        ++s->calls;
        if (pr->done_bytes < s->last_done) s->went_backwards = true;
        s->last_done = pr->done_bytes;
        return 0;
    };
    std::string cache = dir / "cache";
    EXPECT_EQ(p->fetch(s, cache.c_str(), blobs, 2, &cb, results), BF_E_PARTIAL);
    EXPECT_EQ(results[0].status, BF_OK) << results[0].message;
    EXPECT_EQ(results[0].bytes_downloaded, 100000);
    EXPECT_EQ(results[0].state, BF_BLOB_DONE);
    EXPECT_EQ(results[1].state, BF_BLOB_FAILED);
    EXPECT_EQ(sha256_file_hex(cache + "/pkg/a.bin"), sha);
    EXPECT_EQ(results[1].status, BF_E_UNSAFE_PATH);
    EXPECT_NE(std::string(results[1].message).find("escape.bin"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(dir / "escape.bin"));
    EXPECT_GT(seen.calls, 0);
    EXPECT_FALSE(seen.went_backwards);
    EXPECT_EQ(seen.last_done, 100000);
    EXPECT_STRNE(p->session_last_error(s), "");

    // Second fetch: already cached, reported as skipped.
    EXPECT_EQ(p->fetch(s, cache.c_str(), blobs, 1, &cb, results), BF_OK);
    EXPECT_EQ(results[0].bytes_downloaded, 0);
    EXPECT_EQ(results[0].bytes_skipped, 100000);
    EXPECT_EQ(results[0].state, BF_BLOB_SKIPPED);
    p->session_destroy(s);
}

// One session runs one fetch() at a time. A second call, re-entrant from the
// progress callback or from another thread meanwhile, returns BF_E_BUSY,
// fills its results with a message that outlives the call, and leaves the
// running fetch (its results, its last error) untouched.
TEST(PluginAbi, Fetch_SecondCallWhileOneRuns_IsBusyAndTouchesNothing) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    TempDir dir;
    const std::string sha = write_blob(dir / "src/a.bin", 8, 300000);
    const std::string url = "file://" + dir.path() + "/src/a.bin";
    const std::string cache = dir / "cache";
    bf_session *s = nullptr;
    char err[256];
    ASSERT_EQ(p->session_create(nullptr, &s, err, sizeof err), BF_OK) << err;

    bf_blob blob{};
    blob.struct_size = sizeof blob;
    blob.url = url.c_str();
    blob.path = "a.bin";
    blob.size = 300000;
    blob.sha256 = sha.c_str();

    struct Inner {
        const bf_provider *p;
        bf_session *s;
        const bf_blob *blob;
        const char *cache;
        int calls = 0;
        bf_status reentrant = BF_OK, other_thread = BF_OK;
        bf_blob_result r1{}, r2{};
    } inner{p, s, &blob, cache.c_str()};
    bf_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.user = &inner;
    cb.progress = [](void *user, const bf_progress *) -> int32_t {
        auto *in = static_cast<Inner *>(user);
        if (in->calls++ > 0) return 0;
        in->r1.struct_size = in->r2.struct_size = sizeof(bf_blob_result);
        in->reentrant = in->p->fetch(in->s, in->cache, in->blob, 1, nullptr, &in->r1);
        std::thread t([in] { in->other_thread = in->p->fetch(in->s, in->cache, in->blob, 1, nullptr, &in->r2); });
        t.join();
        return 0;
    };
    bf_blob_result result{};
    result.struct_size = sizeof result;
    ASSERT_EQ(p->fetch(s, cache.c_str(), &blob, 1, &cb, &result), BF_OK) << p->session_last_error(s);
    EXPECT_EQ(result.status, BF_OK) << result.message;
    EXPECT_EQ(sha256_file_hex(cache + "/a.bin"), sha);
    ASSERT_GT(inner.calls, 0);
    for (const auto *r : {&inner.r1, &inner.r2}) {
        EXPECT_EQ(r->status, BF_E_BUSY);
        EXPECT_EQ(r->state, BF_BLOB_FAILED);
        ASSERT_NE(r->message, nullptr);
        EXPECT_NE(std::string(r->message).find("another fetch() of this session is running"), std::string::npos);
    }
    EXPECT_EQ(inner.reentrant, BF_E_BUSY);
    EXPECT_EQ(inner.other_thread, BF_E_BUSY);
    EXPECT_STREQ(p->session_last_error(s), "");

    // Once it returned, the session takes the next fetch().
    EXPECT_EQ(p->fetch(s, cache.c_str(), &blob, 1, nullptr, &result), BF_OK);
    EXPECT_EQ(result.state, BF_BLOB_SKIPPED);
    p->session_destroy(s);
}

// session_last_error() is safe from any thread while a fetch() runs: it
// returns the text of the fetch before, which the running one never writes.
// (It once read a std::string that the running fetch() cleared and wrote;
// TSan reports that.)
TEST(PluginAbi, SessionLastError_ReadFromAnotherThreadDuringAFetch_IsThePreviousText) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    TempDir dir;
    const std::string cache = dir / "cache";
    bf_session *s = nullptr;
    char err[256];
    ASSERT_EQ(p->session_create(nullptr, &s, err, sizeof err), BF_OK) << err;
    // A failing fetch leaves its text.
    bf_blob missing{};
    missing.struct_size = sizeof missing;
    const std::string missing_url = "file://" + dir.path() + "/nothing-here.bin";
    missing.url = missing_url.c_str();
    missing.path = "missing.bin";
    missing.size = 10;
    bf_blob_result r{};
    r.struct_size = sizeof r;
    ASSERT_EQ(p->fetch(s, cache.c_str(), &missing, 1, nullptr, &r), BF_E_PARTIAL);
    const std::string before = p->session_last_error(s);
    ASSERT_EQ(before, "1 of 1 blobs failed");

    // A second fetch runs while another thread keeps reading the text.
    const std::string sha = write_blob(dir / "src/big.bin", 9, 3 << 20);
    const std::string url = "file://" + dir.path() + "/src/big.bin";
    bf_blob big{};
    big.struct_size = sizeof big;
    big.url = url.c_str();
    big.path = "big.bin";
    big.size = 3 << 20;
    big.sha256 = sha.c_str();
    std::atomic<bool> done{false};
    std::atomic<int> reads{0}, wrong{0};
    std::thread reader([&] {
        while (!done.load()) {
            // The previous text, or this fetch's once it is about to return.
            const std::string now = p->session_last_error(s);
            if (now != before && !now.empty()) ++wrong;
            ++reads;
        }
    });
    struct During {
        const bf_provider *p;
        bf_session *s;
        const std::string *before;
        int calls = 0, mismatches = 0;
    } during{p, s, &before};
    bf_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.user = &during;
    cb.progress = [](void *user, const bf_progress *) -> int32_t {
        auto *d = static_cast<During *>(user);
        ++d->calls;
        if (*d->before != d->p->session_last_error(d->s)) ++d->mismatches;  // the fetch runs right now
        return 0;
    };
    EXPECT_EQ(p->fetch(s, cache.c_str(), &big, 1, &cb, &r), BF_OK);
    done = true;
    reader.join();
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_GT(during.calls, 0);
    EXPECT_EQ(during.mismatches, 0) << "the running fetch changed the text it was reading";
    EXPECT_STREQ(p->session_last_error(s), "") << "the successful fetch's text once it returned";
    p->session_destroy(s);
}

// Sessions share nothing: two threads, each with its own session, fetching
// the same blobs into one cache both succeed (the directory lock works
// between sessions of one process too) and every file is right.
TEST(PluginAbi, TwoSessionsOnTwoThreads_SameCache_BothSucceed) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    TempDir dir;
    constexpr int kBlobs = 20;
    std::vector<std::string> shas, urls, paths;
    for (int i = 0; i < kBlobs; ++i) {
        const std::string name = "b" + std::to_string(i) + ".bin";
        shas.push_back(write_blob(dir / ("src/" + name), 100 + static_cast<unsigned>(i), 50000 + i));
        urls.push_back("file://" + dir.path() + "/src/" + name);
        paths.push_back("d" + std::to_string(i % 3) + "/" + name);
    }
    std::vector<bf_blob> blobs(kBlobs);
    for (int i = 0; i < kBlobs; ++i) {
        auto &b = blobs[static_cast<std::size_t>(i)];
        b.struct_size = sizeof b;
        b.url = urls[static_cast<std::size_t>(i)].c_str();
        b.path = paths[static_cast<std::size_t>(i)].c_str();
        b.size = 50000 + i;
        b.sha256 = shas[static_cast<std::size_t>(i)].c_str();
    }
    const std::string cache = dir / "cache";
    bf_status rc[2] = {BF_E_INTERNAL, BF_E_INTERNAL};
    std::vector<bf_blob_result> results[2];
    std::vector<std::string> messages[2];
    std::thread threads[2];
    for (int t = 0; t < 2; ++t)
        threads[t] = std::thread([&, t] {
            bf_session *s = nullptr;
            if (p->session_create(nullptr, &s, nullptr, 0) != BF_OK) return;
            results[t].assign(kBlobs, bf_blob_result{});
            for (auto &r : results[t]) r.struct_size = sizeof r;
            rc[t] = p->fetch(s, cache.c_str(), blobs.data(), kBlobs, nullptr, results[t].data());
            for (const auto &r : results[t]) messages[t].push_back(r.message ? r.message : "");
            p->session_destroy(s);  // the messages were copied: they die with the session
        });
    for (auto &t : threads) t.join();
    for (int t = 0; t < 2; ++t) {
        EXPECT_EQ(rc[t], BF_OK) << "thread " << t;
        for (std::size_t i = 0; i < results[t].size(); ++i)
            EXPECT_EQ(results[t][i].status, BF_OK) << messages[t][i];
    }
    for (int i = 0; i < kBlobs; ++i)
        EXPECT_EQ(sha256_file_hex(cache + "/" + paths[static_cast<std::size_t>(i)]), shas[static_cast<std::size_t>(i)]);
}

// Progress events as they cross the C ABI: done never exceeds a known total,
// a blob's done never exceeds its known size, and a size the plugin learns
// from the server (the descriptor said -1) is in the total.
struct ProgressLog {
    int64_t last_total = -2, last_done = -1;
    int inconsistent = 0;
    std::string first_bad;
    int64_t stop_at = -1;            // cancel once done reaches it...
    int64_t total_when_stopped = -2;  // ...and remember the total then
};
int32_t log_progress(void *user, const bf_progress *pr) {
    auto *log = static_cast<ProgressLog *>(user);
    const bool bad = (pr->total_bytes >= 0 && pr->done_bytes > pr->total_bytes) ||
                     (pr->blob_index != BF_NO_BLOB && pr->blob_total_bytes >= 0 &&
                      pr->blob_done_bytes > pr->blob_total_bytes);
    if (bad && log->inconsistent++ == 0)
        log->first_bad = std::to_string(pr->done_bytes) + " of " + std::to_string(pr->total_bytes) + " (blob " +
                         std::to_string(pr->blob_done_bytes) + " of " + std::to_string(pr->blob_total_bytes) + ")";
    if (pr->blob_index == BF_NO_BLOB) {
        log->last_total = pr->total_bytes;
        log->last_done = pr->done_bytes;
        if (log->stop_at >= 0 && pr->done_bytes >= log->stop_at) {
            log->total_when_stopped = pr->total_bytes;
            return 1;
        }
    }
    return 0;
}

TEST(PluginAbi, Progress_SizeLearnedFromTheServer_JoinsTheTotal_DoneNeverExceedsIt) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    FaultServer server;
    server.add_blob("/known.bin", 61, 3 << 20);
    server.add_blob("/unknown.bin", 62, 1 << 20);
    const std::string known = server.base_url() + "/known.bin", unknown = server.base_url() + "/unknown.bin";
    TempDir dir;
    bf_session *s = nullptr;
    char err[256];
    ASSERT_EQ(p->session_create(R"({"chunk_size": 262144})", &s, err, sizeof err), BF_OK) << err;
    bf_blob blobs[2] = {};
    for (auto &b : blobs) b.struct_size = sizeof(bf_blob);
    blobs[0].url = known.c_str();
    blobs[0].path = "known.bin";
    blobs[0].size = 3 << 20;
    blobs[1].url = unknown.c_str();
    blobs[1].path = "unknown.bin";
    blobs[1].size = -1;
    bf_blob_result results[2] = {};
    for (auto &r : results) r.struct_size = sizeof(bf_blob_result);
    ProgressLog log;
    bf_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.user = &log;
    cb.progress = log_progress;
    const std::string cache = dir / "cache";
    ASSERT_EQ(p->fetch(s, cache.c_str(), blobs, 2, &cb, results), BF_OK) << results[1].message;
    EXPECT_EQ(log.inconsistent, 0) << "first: " << log.first_bad;
    EXPECT_EQ(log.last_done, 4 << 20);
    EXPECT_EQ(log.last_total, 4 << 20) << "the learned 1 MiB is in the total";
    p->session_destroy(s);
}

// The only blob, of unknown size: once the server's first answer told its
// size, the total says it while the bytes still come (the server stalls
// after 512 KiB; the callback cancels once it has seen them).
TEST(PluginAbi, Progress_OnlyBlobOfUnknownSize_TotalKnownWhileItDownloads) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    FaultServer server;
    server.add_blob("/u.bin", 63, 2 << 20);
    FaultRule stall;
    stall.path = "/u.bin";
    stall.times = -1;
    stall.fault.kind = FaultKind::stall;
    stall.fault.after_bytes = 512 << 10;
    server.add_rule(stall);
    const std::string url = server.base_url() + "/u.bin";
    TempDir dir;
    bf_session *s = nullptr;
    char err[256];
    ASSERT_EQ(p->session_create(R"({"concurrency": 1})", &s, err, sizeof err), BF_OK) << err;
    bf_blob blob{};
    blob.struct_size = sizeof blob;
    blob.url = url.c_str();
    blob.path = "u.bin";
    blob.size = -1;
    bf_blob_result result{};
    result.struct_size = sizeof result;
    ProgressLog log;
    log.stop_at = 512 << 10;
    bf_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.user = &log;
    cb.progress = log_progress;
    const std::string cache = dir / "cache";
    EXPECT_EQ(p->fetch(s, cache.c_str(), &blob, 1, &cb, &result), BF_E_CANCELLED);
    EXPECT_EQ(log.total_when_stopped, 2 << 20) << "512 KiB done of a known 2 MiB, not of '?'";
    EXPECT_EQ(log.inconsistent, 0) << "first: " << log.first_bad;
    p->session_destroy(s);
}

TEST(PluginAbi, Fetch_NullArgumentsAreRefused) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    bf_session *s = nullptr;
    ASSERT_EQ(p->session_create("", &s, nullptr, 0), BF_OK);
    EXPECT_EQ(p->fetch(nullptr, "/tmp", nullptr, 0, nullptr, nullptr), BF_E_INVALID_ARGUMENT);
    bf_blob_result r{};
    r.struct_size = sizeof r;
    EXPECT_EQ(p->fetch(s, "/tmp", nullptr, 1, nullptr, &r), BF_E_INVALID_ARGUMENT);
    EXPECT_EQ(p->fetch(s, nullptr, nullptr, 0, nullptr, nullptr), BF_E_INVALID_ARGUMENT);
    p->session_destroy(s);
}

// ---------------------------------------------------------------- layouts
// Hosts compiled against every published layout of the header (48-byte
// bf_blob and 32-byte bf_blob_result at first, then 40-byte results, then
// 56-byte blobs: the current header), and against a future one with one more
// member in each struct. The plugin must walk both arrays with the caller's
// struct_size: every result right, nothing written past the array or into a
// member it does not know.
struct LayoutCase {
    const char *layout;
    bool has_state;
    friend void PrintTo(const LayoutCase &c, std::ostream *os) { *os << c.layout; }
};

class HostLayouts : public ::testing::TestWithParam<LayoutCase> {};

TEST_P(HostLayouts, ManyBlobs_EveryResultRight_NothingWrittenOutsideTheCallersStructs) {
    const LayoutCase c = GetParam();
    FaultServer server;
    TempDir dir;
    const std::string cache = dir / "cache";
    // 40 blobs: downloaded (sizes across chunk boundaries), one already
    // cached, one missing on the server (404), one with an unsafe path.
    std::ostringstream list;
    constexpr int kBlobs = 40;
    std::vector<std::uint64_t> sizes;
    for (int i = 0; i < kBlobs; ++i) {
        const std::uint64_t size = 1000 + static_cast<std::uint64_t>(i) * 37'001;
        sizes.push_back(size);
        const std::string name = "/b" + std::to_string(i) + ".bin";
        if (i != 7) server.add_blob(name, 900 + i, size);  // 7: 404
        std::string path = "d" + std::to_string(i % 3) + name;
        if (i == 11) path = "../escape.bin";
        if (i == 5) write_blob(cache + "/" + path, 900 + i, size);  // already cached
        list << server.base_url() << name << '\t' << path << '\t' << size << '\t'
             << (i % 2 ? sha256_hex(blob_content(900 + i, size)) : std::string("-")) << '\n';
    }
    const std::string list_file = dir / "list.tsv";
    {
        std::ofstream out(list_file);
        out << list.str();
    }
    const std::string host = std::string(BLOBFETCH_ABI_HOST_DIR) + "/blobfetch-abi-host-" + c.layout;
    const ProcessResult r = run_process({host, BLOBFETCH_PLUGIN_PATH, cache, list_file});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("rc=" + std::to_string(BF_E_PARTIAL) + " canary=ok"), std::string::npos) << r.out;
    std::istringstream lines(r.out);
    std::string line;
    int seen = 0;
    while (std::getline(lines, line)) {
        if (line.rfind("result ", 0) != 0) continue;
        const int i = std::stoi(line.substr(7));
        ++seen;
        const auto field = [&](const std::string &name) {
            const auto at = line.find(" " + name + "=");
            if (at == std::string::npos) return std::string();
            const auto begin = at + name.size() + 2;
            return line.substr(begin, line.find(' ', begin) - begin);
        };
        SCOPED_TRACE(line);
        if (i == 7) {
            EXPECT_EQ(field("status"), std::to_string(BF_E_NOT_FOUND));
        } else if (i == 11) {
            EXPECT_EQ(field("status"), std::to_string(BF_E_UNSAFE_PATH));
            EXPECT_NE(line.find("escape"), std::string::npos);
        } else if (i == 5) {
            EXPECT_EQ(field("status"), "0");
            EXPECT_EQ(field("skipped"), std::to_string(sizes[5]));
            if (c.has_state) {
                EXPECT_EQ(field("state"), std::to_string(BF_BLOB_SKIPPED));
            }
        } else {
            EXPECT_EQ(field("status"), "0");
            EXPECT_EQ(field("downloaded"), std::to_string(sizes[i]));
            EXPECT_NE(line.find("message=downloaded and verified"), std::string::npos);
            if (c.has_state) {
                EXPECT_EQ(field("state"), std::to_string(BF_BLOB_DONE));
            }
            const std::string path = cache + "/d" + std::to_string(i % 3) + "/b" + std::to_string(i) + ".bin";
            EXPECT_EQ(read_file(path), blob_content(900 + i, sizes[i])) << path;
        }
        if (!c.has_state) {
            EXPECT_EQ(field("state"), "?");
        }
    }
    EXPECT_EQ(seen, kBlobs) << r.out;
}

INSTANTIATE_TEST_SUITE_P(EveryPublishedLayout, HostLayouts,
                         ::testing::Values(LayoutCase{"v1_0", false}, LayoutCase{"v1_1", true},
                                           LayoutCase{"current", true}, LayoutCase{"future", true}),
                         [](const auto &info) { return std::string(info.param.layout); });

// A results array whose stride cannot be trusted (an element with another
// struct_size, or one below the first layout) is refused without a write.
TEST(PluginAbi, Fetch_ResultsOfMixedOrTooSmallStructSize_AreRefused_NothingWritten) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    bf_session *s = nullptr;
    ASSERT_EQ(p->session_create("", &s, nullptr, 0), BF_OK);
    TempDir dir;
    const std::string cache = dir / "cache";
    bf_blob blobs[3] = {};
    for (auto &b : blobs) {
        b.struct_size = sizeof b;
        b.url = "http://127.0.0.1:1/x";
        b.path = "x";
        b.size = 1;
    }
    for (std::uint32_t bad : {0u, 8u, static_cast<std::uint32_t>(BF_BLOB_RESULT_MIN_SIZE) - 8u,
                              static_cast<std::uint32_t>(sizeof(bf_blob_result)) + 4u}) {
        bf_blob_result results[3];
        std::memset(results, 0x5a, sizeof results);
        for (auto &r : results) r.struct_size = sizeof r;
        results[0].struct_size = bad;
        EXPECT_EQ(p->fetch(s, cache.c_str(), blobs, 3, nullptr, results), BF_E_INVALID_ARGUMENT) << bad;
        EXPECT_EQ(results[1].status, static_cast<bf_status>(0x5a5a5a5a)) << "nothing written, struct_size " << bad;
        EXPECT_NE(std::string(p->session_last_error(s)).find("results[0].struct_size"), std::string::npos)
            << p->session_last_error(s);
    }
    bf_blob_result results[3];
    std::memset(results, 0x5a, sizeof results);
    for (auto &r : results) r.struct_size = sizeof r;
    results[2].struct_size = BF_BLOB_RESULT_MIN_SIZE;
    EXPECT_EQ(p->fetch(s, cache.c_str(), blobs, 3, nullptr, results), BF_E_INVALID_ARGUMENT);
    EXPECT_EQ(results[0].status, static_cast<bf_status>(0x5a5a5a5a));
    EXPECT_NE(std::string(p->session_last_error(s)).find("results[2].struct_size"), std::string::npos)
        << p->session_last_error(s);
    EXPECT_FALSE(std::filesystem::exists(cache)) << "nothing fetched";
    p->session_destroy(s);
}

// A blobs array below the first layout, or of mixed struct sizes, fails
// every blob (the results are written) and fetches nothing.
TEST(PluginAbi, Fetch_BlobsOfMixedOrTooSmallStructSize_FailEveryBlob_NothingFetched) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    FaultServer server;
    server.add_blob("/x", 1, 100);
    const std::string url = server.base_url() + "/x";
    bf_session *s = nullptr;
    ASSERT_EQ(p->session_create("", &s, nullptr, 0), BF_OK);
    TempDir dir;
    const std::string cache = dir / "cache";
    for (int variant = 0; variant < 2; ++variant) {
        bf_blob blobs[3] = {};
        for (auto &b : blobs) {
            b.struct_size = sizeof b;
            b.url = url.c_str();
            b.path = "x";
            b.size = 100;
        }
        if (variant == 0) blobs[0].struct_size = BF_BLOB_MIN_SIZE - 8;
        else blobs[1].struct_size = BF_BLOB_MIN_SIZE;
        bf_blob_result results[3] = {};
        for (auto &r : results) r.struct_size = sizeof r;
        EXPECT_EQ(p->fetch(s, cache.c_str(), blobs, 3, nullptr, results), BF_E_INVALID_ARGUMENT) << variant;
        for (const auto &r : results) {
            EXPECT_EQ(r.status, BF_E_INVALID_ARGUMENT);
            EXPECT_NE(std::string(r.message).find("struct_size"), std::string::npos) << r.message;
        }
    }
    EXPECT_TRUE(server.requests().empty());
    p->session_destroy(s);
}

// Two descriptors naming one cache file with different content: the later
// one fails (BF_E_INVALID_ARGUMENT), the earlier one is fetched, and the
// cache holds the earlier one's bytes; exact duplicates both succeed.
TEST(PluginAbi, Fetch_TwoDescriptorsOneCachePath_DifferentBlobs_TheLaterFails_TheCacheHoldsTheEarlier) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    FaultServer server;
    server.add_blob("/a", 71, 70000);
    server.add_blob("/b", 72, 70000);
    server.add_blob("/c", 73, 50000);
    const std::string a = server.base_url() + "/a", b = server.base_url() + "/b", cu = server.base_url() + "/c";
    bf_session *s = nullptr;
    ASSERT_EQ(p->session_create("", &s, nullptr, 0), BF_OK);
    TempDir dir;
    const std::string cache = dir / "cache";
    const std::string sha_a = sha256_hex(blob_content(71, 70000)), sha_other = sha256_hex(blob_content(99, 70000));
    bf_blob blobs[6] = {};
    for (auto &x : blobs) {
        x.struct_size = sizeof x;
        x.size = 70000;
    }
    blobs[0].url = a.c_str();  // the earlier one
    blobs[0].path = "same.bin";
    blobs[1].url = b.c_str();  // another URL
    blobs[1].path = "same.bin";
    blobs[2].url = a.c_str();  // another size
    blobs[2].path = "same.bin";
    blobs[2].size = 100;
    blobs[3].url = a.c_str();  // another digest
    blobs[3].path = "same.bin";
    blobs[3].sha256 = sha_other.c_str();
    blobs[4].url = a.c_str();  // an exact duplicate
    blobs[4].path = "same.bin";
    blobs[5].url = cu.c_str();  // unrelated
    blobs[5].path = "c.bin";
    blobs[5].size = 50000;
    bf_blob_result results[6] = {};
    for (auto &r : results) r.struct_size = sizeof r;
    EXPECT_EQ(p->fetch(s, cache.c_str(), blobs, 6, nullptr, results), BF_E_PARTIAL);
    EXPECT_EQ(results[0].status, BF_OK) << results[0].message;
    for (int i : {1, 2, 3}) {
        EXPECT_EQ(results[i].status, BF_E_INVALID_ARGUMENT) << i << ": " << results[i].message;
        EXPECT_NE(std::string(results[i].message).find("same.bin"), std::string::npos) << results[i].message;
    }
    EXPECT_EQ(results[4].status, BF_OK) << results[4].message;
    EXPECT_EQ(results[5].status, BF_OK) << results[5].message;
    EXPECT_EQ(read_file(cache + "/same.bin"), blob_content(71, 70000));
    EXPECT_EQ(server.body_bytes_sent("/b"), 0) << "nothing fetched for the refused descriptor";
    (void)sha_a;
    p->session_destroy(s);
}

// A C++ host whose progress callback throws: the fetch is cancelled, its
// threads joined, fetch() returns BF_E_INTERNAL and the process lives on.
TEST(PluginAbi, ProgressCallbackThatThrows_IsContained_FetchReturnsInternal) {
    PluginModule m;
    const bf_provider *p = m.provider();
    ASSERT_NE(p, nullptr);
    FaultServer server;
    server.add_blob("/t.bin", 81, 4 << 20);
    server.set_rate_limit(4 << 20);
    const std::string url = server.base_url() + "/t.bin";
    bf_session *s = nullptr;
    ASSERT_EQ(p->session_create(R"({"chunk_size": 262144, "concurrency": 2})", &s, nullptr, 0), BF_OK);
    TempDir dir;
    const std::string cache = dir / "cache";
    bf_blob blob{};
    blob.struct_size = sizeof blob;
    blob.url = url.c_str();
    blob.path = "t.bin";
    blob.size = 4 << 20;
    bf_blob_result result{};
    result.struct_size = sizeof result;
    bf_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.progress = [](void *, const bf_progress *pr) -> int32_t {
        if (pr->done_bytes > 0) throw std::runtime_error("host bug");
        return 0;
    };
    cb.log = [](void *, int32_t, const char *) { throw std::runtime_error("log bug"); };
    EXPECT_EQ(p->fetch(s, cache.c_str(), &blob, 1, &cb, &result), BF_E_INTERNAL);
    EXPECT_NE(std::string(p->session_last_error(s)).find("progress callback threw"), std::string::npos)
        << p->session_last_error(s);
    EXPECT_NE(result.status, BF_OK);
    EXPECT_FALSE(std::filesystem::exists(cache + "/t.bin")) << "nothing published";
    // The session is usable again, and the next fetch completes what was kept.
    EXPECT_EQ(p->fetch(s, cache.c_str(), &blob, 1, nullptr, &result), BF_OK) << result.message;
    EXPECT_EQ(read_file(cache + "/t.bin"), blob_content(81, 4 << 20));
    p->session_destroy(s);
}

}  // namespace
