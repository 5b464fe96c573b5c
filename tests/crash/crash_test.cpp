// Crash consistency, checked exhaustively over every crash point of a real
// fetch (tests/crash/MODEL.md). For each scenario:
//   1. the real host (`blobfetch fetch`, loading the plugin) runs once under
//      the recorder (crash_recorder.c), against the in-process fault server;
//   2. for every prefix of its log and both persistence models, every crash
//      state the model allows (base states; with
//      BLOBFETCH_CRASH_EXHAUSTIVE=1 also sampled combinations) is built as a
//      real directory, and the real host runs again on it (recovery), then
//      `gc --all`; the invariants of issue 13 are checked before and after;
//   3. the fetch is run again with the N-th operation of a class failing, for
//      every N (EIO on fsync/fdatasync, ENOSPC and EIO on pwrite, EIO on
//      rename, EACCES on open), then recovered the same way.
// A violating state is printed with a command that rebuilds it from the kept
// log and reruns recovery. BLOBFETCH_CRASH_BIN_DIR points the checker at
// another build's bin/ (e.g. an older commit's); the recorder is always this
// build's. Descriptors carry sizes but no hashes: only the engine's own care
// (CRC-32 of chunks, syncs, order of renames) stands between a crash and a
// wrong published file.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crash/crash_model.h"
#include "hash/crc32.h"
#include "state/chunk_bitmap.h"
#include "state/download_state.h"
#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/process.h"

namespace blobfetch::crash {
namespace {

namespace fs = std::filesystem;
using test::FaultServer;
using test::ProcessOptions;
using test::ProcessResult;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kChunk = 64 << 10;  // the smallest chunk size the options allow
constexpr std::size_t kMaxSingles = 24;    // "each unsynced write lost alone", per crash point
constexpr std::size_t kSamples = 24;       // further combinations per crash point, exhaustive mode only
constexpr std::uint64_t kSeed = 0x5eed13;

struct BlobDef {
    std::string name, abi;  // the final name is <name>/<abi>.zip (abi: 64 hex digits, as vcpkg's)
    std::uint64_t seed = 0, size = 0;
    std::string rel() const { return name + "/" + abi + ".zip"; }
    std::string url_path() const { return "/" + rel(); }
};

struct Scenario {
    std::string name;
    std::vector<BlobDef> blobs;
    bool strict = true;
    bool resumed = false;        // start from what an interrupted fetch left (a record, when chunked)
    bool change = false;         // the first blob's remote changes when its third chunk is requested
    std::int64_t rate = 0;       // bytes/s per connection while recording (0: unpaced)
    int connections = 2;
    std::int64_t chunk = kChunk;  // the manifest's chunk_size
    // The interrupted fetch's connection for the chunk at min(3, chunks - 2) is
    // reset after this many bytes.
    std::int64_t interrupt_after = 10000;
};

// gtest prints a parameter with this (the test list shows the name, not bytes).
void PrintTo(const Scenario &s, std::ostream *os) { *os << s.name; }

std::string env_or(const char *name, const std::string &fallback) {
    const char *v = std::getenv(name);
    return v && *v ? v : fallback;
}
std::string bin() { return env_or("BLOBFETCH_CRASH_BIN_DIR", test::bin_dir()); }
std::string recorder() { return test::bin_dir() + "/libblobfetch_crash_recorder.so"; }
bool exhaustive() { return env_or("BLOBFETCH_CRASH_EXHAUSTIVE", "0") == "1"; }

std::vector<Scenario> scenarios() {
    std::vector<Scenario> out;
    const BlobDef small{"small", std::string(64, 'a'), 11, 48 << 10};
    const BlobDef chunked{"chunked", std::string(64, 'b'), 12, 6 * kChunk};  // 6 chunks over 2 connections
    const std::vector<BlobDef> set{{"set", std::string(64, 'a'), 21, 40 << 10},
                                   {"set", std::string(64, 'b'), 22, 4 * kChunk},
                                   {"set", std::string(64, 'c'), 23, 3 * kChunk - 1000}};
    for (bool strict : {true, false}) {
        const std::string d = strict ? "strict" : "relaxed";
        for (bool resumed : {false, true}) {
            const std::string r = resumed ? "resumed" : "fresh";
            out.push_back({"single_" + d + "_" + r, {small}, strict, resumed, false, 0});
            // Paced so that the 2 s checkpoint falls in the middle of the transfer.
            out.push_back({"chunked_" + d + "_" + r, {chunked}, strict, resumed, false, 64 << 10});
            out.push_back({"set3_" + d + "_" + r, set, strict, resumed, false, 0});
        }
        out.push_back({"change_" + d, {{"changing", std::string(64, 'c'), 31, 6 * kChunk}}, strict, false, true, 0});
        // Chunks larger than the engine's write buffers (256 KiB here), paced
        // so that the 2 s checkpoint finds each connection part way into its
        // chunk: records carry received prefixes (format v2), and an
        // interrupted fetch leaves one.
        for (bool resumed : {false, true})
            out.push_back({std::string("inflight_") + d + (resumed ? "_resumed" : "_fresh"),
                           {{"inflight", std::string(64, 'd'), 41, 2 * (512 << 10)}}, strict, resumed, false, 192 << 10, 2, 512 << 10,
                           300000});
    }
    return out;
}

// What one recovery did.
struct Verdict {
    std::vector<std::string> violations;
    bool recovered = false;    // exit 0
    bool crc_proven = false;   // the state had a record claiming wrong bytes, and the engine rejected them
    bool prefix_claimed = false;  // the state had a record whose received prefixes (v2) hold the right bytes
};

struct Counts {
    std::size_t points = 0, states = 0, distinct = 0, violations = 0, crc_proven = 0, errors = 0, prefixes = 0;
    std::size_t faults = 0, fault_runs = 0, fault_violations = 0;
    double seconds = 0;
};

class Crash : public ::testing::TestWithParam<Scenario> {
protected:
    void SetUp() override {
        m_root = fs::canonical(m_tmp.path()).string();
        for (const BlobDef &b : scenario().blobs) m_server.add_blob(b.url_path(), b.seed, b.size);
    }

    const Scenario &scenario() const { return GetParam(); }

    // The bytes a final name may hold: the blob as the remote had it at any
    // time (a size-only descriptor is satisfied by either whole version).
    std::set<std::string> allowed(const BlobDef &b) const {
        std::set<std::string> out{test::blob_content(b.seed, b.size)};
        if (scenario().change && &b == &scenario().blobs[0]) out.insert(test::blob_content(b.seed + 1, b.size));
        return out;
    }

    void reset_server(bool paced) {
        m_server.clear_rules();
        for (const BlobDef &b : scenario().blobs) m_server.change_blob(b.url_path(), b.seed, b.size);
        if (scenario().change) {
            const BlobDef &b = scenario().blobs[0];
            test::FaultRule rule;
            rule.path = b.url_path();
            rule.range_begin = 2 * kChunk;
            rule.fault.change_size = static_cast<std::int64_t>(b.size);
            rule.fault.change_seed = b.seed + 1;
            m_server.add_rule(rule);
        }
        m_server.set_rate_limit(paced ? scenario().rate : 0);
    }
    // After recording: the remote as recovery finds it (a changed blob stays changed).
    void settle_server() {
        m_server.clear_rules();
        m_server.set_rate_limit(0);
        if (scenario().change) {
            const BlobDef &b = scenario().blobs[0];
            m_server.change_blob(b.url_path(), b.seed + 1, b.size);
        }
    }

    std::string manifest(int retries) {
        nlohmann::json m;
        m["version"] = 1;
        m["cache_dir"] = m_root + "/unused";
        m["sources"] = {{{"url", m_server.base_url() + "/{name}/{sha}.zip"}}};
        m["options"] = {{"durability", scenario().strict ? "strict" : "relaxed"},
                        {"chunk_size", scenario().chunk},
                        {"concurrency", scenario().connections},
                        {"retries", retries}};
        m["artifacts"] = nlohmann::json::array();
        for (const BlobDef &b : scenario().blobs)
            m["artifacts"].push_back({{"name", b.name}, {"sha", b.abi}, {"size", b.size}});
        const std::string path = m_root + "/m" + std::to_string(retries) + ".json";
        test::write_file(path, m.dump(2));
        return path;
    }

    ProcessResult host(const std::vector<std::string> &args, const std::map<std::string, std::string> &env = {}) {
        ProcessOptions po;
        for (const auto &[k, v] : env) po.env[k] = v;
        po.env["VCPKG_DEFAULT_BINARY_CACHE"] = std::nullopt;
        po.env["VCPKG_BINARY_SOURCES"] = std::nullopt;
        po.env["XDG_CACHE_HOME"] = m_root + "/no-xdg";
        std::vector<std::string> argv{bin() + "/blobfetch"};
        argv.insert(argv.end(), args.begin(), args.end());
        return test::run_process(argv, po);
    }
    ProcessResult fetch(const std::string &cache, int retries, const std::map<std::string, std::string> &env = {}) {
        return host({"fetch", manifest(retries), "--cache", cache, "--no-progress", "-v"}, env);
    }
    std::map<std::string, std::string> recorder_env(const std::string &cache, const std::string &log,
                                                    const std::string &data, const std::string &fail = "") {
        std::map<std::string, std::string> env{{"LD_PRELOAD", recorder()},
                                               {"BLOBFETCH_CRASH_ROOT", cache},
                                               {"BLOBFETCH_CRASH_LOG", log},
                                               {"BLOBFETCH_CRASH_DATA", data}};
        if (!fail.empty()) env["BLOBFETCH_CRASH_FAIL"] = fail;
        // An ASan build's host: the recorder is preloaded ahead of the runtime.
        const char *asan = std::getenv("ASAN_OPTIONS");
        env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "verify_asan_link_order=0";
        return env;
    }

    // The directory an interrupted fetch leaves: for chunked blobs a record
    // with some chunks (the connection of the fourth chunk is reset and no
    // retry is allowed), for single ones a partial file.
    Tree interrupted_state() {
        const std::string cache = m_root + "/interrupted";
        reset_server(false);
        for (const BlobDef &b : scenario().blobs) {
            test::FaultRule rule;
            rule.path = b.url_path();
            const std::int64_t chunk = scenario().chunk;
            const auto chunks = static_cast<std::int64_t>((b.size + static_cast<std::uint64_t>(chunk) - 1) /
                                                          static_cast<std::uint64_t>(chunk));
            rule.range_begin = chunks > 1 ? std::min<std::int64_t>(3, chunks - 2) * chunk : -1;
            rule.times = -1;
            rule.fault.kind = test::FaultKind::reset_after;
            rule.fault.after_bytes = scenario().interrupt_after;
            m_server.add_rule(rule);
        }
        ProcessResult r = fetch(cache, 0);
        EXPECT_NE(r.exit_code, 0) << "the interrupted fetch succeeded\n" << r.err;
        Tree t = read_tree(cache);
        // A single request keeps no record and a failed one removes its
        // partial file; what it leaves is what a kill leaves: half of it.
        for (const BlobDef &b : scenario().blobs) {
            if (b.size > static_cast<std::uint64_t>(scenario().chunk)) continue;
            if (!t.files.count(b.rel() + ".part")) t.files[b.rel() + ".part"] = test::blob_content(b.seed, b.size / 2);
            t.dirs.insert(b.name);
        }
        return t;
    }

    // Good and bad claimed chunks of the records in `t` (as the engine would
    // load them: valid, the data file of the blob's size, the remote's
    // current ETag for the good ones).
    void claimed(const Tree &t, const BlobDef &b, std::int64_t &good_bytes, std::uint64_t &bad,
                 std::int64_t &prefix_bytes) const {
        good_bytes = 0;
        bad = 0;
        prefix_bytes = 0;
        auto rec = t.files.find(b.rel() + ".dlstate");
        auto part = t.files.find(b.rel() + ".part");
        if (rec == t.files.end() || part == t.files.end()) return;
        auto st = decode_download_state(std::span(reinterpret_cast<const std::uint8_t *>(rec->second.data()), rec->second.size()));
        if (!st.ok() || st->blob_size != static_cast<std::int64_t>(b.size) ||
            static_cast<std::int64_t>(part->second.size()) != st->blob_size)
            return;
        const bool same_remote = st->identity.etag.empty() || st->identity.etag == m_server.etag(b.url_path());
        for (std::uint64_t i = 0; i < st->chunks.size(); ++i) {
            if (!st->chunks.test(i)) continue;
            const ChunkRange r = chunk_range(i, st->blob_size, st->chunk_size);
            const std::uint32_t crc = crc32_update(0, part->second.data() + r.begin, static_cast<std::size_t>(r.end - r.begin));
            if (crc != st->crcs[i]) ++bad;
            else if (same_remote) good_bytes += r.end - r.begin;
        }
        // Format v2: the received prefixes of chunks that were in flight
        // count as durable exactly like complete chunks (and must be rejected
        // exactly like them when their bytes are wrong).
        for (const auto &[i, p] : st->partial) {
            const ChunkRange r = chunk_range(i, st->blob_size, st->chunk_size);
            const std::uint32_t crc = crc32_update(0, part->second.data() + r.begin, static_cast<std::size_t>(p.length));
            if (crc != p.crc) {
                ++bad;
            } else if (same_remote) {
                good_bytes += p.length;
                prefix_bytes += p.length;
            }
        }
    }

    // Checks a state before recovery, runs recovery and gc on it, checks after.
    Verdict recover(const Tree &state) {
        Verdict v;
        const std::string cache = m_root + "/state";
        fs::remove_all(cache);
        materialise(state, cache);
        std::map<std::string, std::int64_t> good;
        std::uint64_t bad_total = 0;
        bool any_final_ok = false;
        for (const BlobDef &b : scenario().blobs) {
            auto it = state.files.find(b.rel());
            if (it != state.files.end()) {
                if (!allowed(b).count(it->second))
                    v.violations.push_back("at the crash '" + b.rel() + "' holds wrong bytes (" +
                                           std::to_string(it->second.size()) + " bytes, blob has " + std::to_string(b.size) + ")");
                else any_final_ok = true;
                continue;  // a published blob is not resumed
            }
            std::uint64_t bad = 0;
            std::int64_t prefix = 0;
            claimed(state, b, good[b.rel()], bad, prefix);
            bad_total += bad;
            if (prefix > 0) v.prefix_claimed = true;
        }
        std::map<std::string, std::int64_t> before;
        for (const BlobDef &b : scenario().blobs) before[b.rel()] = m_server.body_bytes_sent(b.url_path());
        ProcessResult r = host({"fetch", manifest(2), "--cache", cache, "--no-progress", "-v", "--json"});
        v.recovered = r.exit_code == 0;
        std::map<std::string, std::int64_t> received;  // what the engine says it received, per blob
        try {
            const nlohmann::json result = nlohmann::json::parse(r.out);  // (kept: the loop walks into it)
            for (const auto &doc : result.at("blobs"))
                received[doc.at("path").get<std::string>()] = doc.at("bytes_downloaded").get<std::int64_t>();
        } catch (const std::exception &) {
        }
        const Tree after = read_tree(cache);
        for (const BlobDef &b : scenario().blobs) {
            auto it = after.files.find(b.rel());
            if (it != after.files.end() && !allowed(b).count(it->second))
                v.violations.push_back("after recovery '" + b.rel() + "' holds wrong bytes (exit " + std::to_string(r.exit_code) + ")");
            if (v.recovered && it == after.files.end())
                v.violations.push_back("recovery exited 0 without '" + b.rel() + "'");
            if (v.recovered) {
                // What the client received (the server's count includes what a
                // kernel buffer took of a response the client then aborted).
                const std::int64_t sent_by_server = m_server.body_bytes_sent(b.url_path()) - before[b.rel()];
                const std::int64_t sent = received.count(b.rel()) ? received[b.rel()] : sent_by_server;
                // A remote that changed since the crash makes what was durable
                // worthless, and the answer that reveals the change (a 200 to
                // the If-Range request) may carry a whole body before the
                // client stops it: one blob more. (Known cost, not yet
                // reduced: see MODEL.md.)
                const bool changed = scenario().change && &b == &scenario().blobs[0];
                const std::int64_t chunk = scenario().chunk;
                const std::int64_t bound = changed ? 2 * static_cast<std::int64_t>(b.size) + scenario().connections * chunk
                                                   : static_cast<std::int64_t>(b.size) - good[b.rel()] +
                                                         scenario().connections * chunk;
                if (sent > bound)
                    v.violations.push_back("recovery downloaded " + std::to_string(sent) + " bytes of '" + b.rel() + "', more than " +
                                           std::to_string(b.size) + " - " + std::to_string(good[b.rel()]) +
                                           (changed ? " durable, remote changed: twice the blob + one chunk per connection = "
                                                   : " durable + one chunk per connection = ") + std::to_string(bound) +
                                           " (the server sent " + std::to_string(sent_by_server) + ")");
            }
        }
        if (!v.recovered && r.err.empty()) v.violations.push_back("recovery failed (exit " + std::to_string(r.exit_code) + ") without a message");
        if (bad_total > 0 && scenario().strict && !scenario().change)
            // Strict durability syncs the data before the record that claims
            // it: no crash may leave a record claiming bytes (complete chunks
            // or received prefixes) that did not survive. (A remote that
            // changed is rewritten under the old record: the CRC check is
            // what catches that.)
            v.violations.push_back("a strict-durability record claimed " + std::to_string(bad_total) +
                                   " chunk(s) or prefix(es) whose bytes are not on disk");
        if (bad_total > 0) {
            if (r.err.find("failed their CRC-32 check") == std::string::npos)
                v.violations.push_back("a record claimed " + std::to_string(bad_total) +
                                       " chunk(s) with wrong bytes and recovery did not say it rejected them");
            else
                v.crc_proven = true;
        }
        (void)any_final_ok;
        // Nothing blobfetch left may be beyond reclaiming: gc --all removes the rest.
        ProcessResult g = host({"gc", cache, "--all"});
        const Tree swept = read_tree(cache);
        for (const auto &[path, bytes] : swept.files) {
            bool final_name = false;
            for (const BlobDef &b : scenario().blobs) final_name = final_name || path == b.rel();
            if (!final_name) v.violations.push_back("left behind after recovery and gc --all: '" + path + "'");
        }
        if (!v.violations.empty()) {
            v.violations.push_back("recovery exit " + std::to_string(r.exit_code) + ", stderr:\n" + r.err.substr(0, 2000) +
                                   "gc exit " + std::to_string(g.exit_code) + ": " + g.out.substr(0, 500) + g.err.substr(0, 500));
        }
        return v;
    }

    // The kept inputs of a reproducer: the log, the data file, the initial tree.
    std::string keep_dir() const {
        return env_or("BLOBFETCH_CRASH_KEEP", fs::temp_directory_path().string() + "/blobfetch-crash-repro") + "/" +
               scenario().name;
    }
    void keep(const std::string &log, const std::string &data, const Tree &initial) const {
        const std::string d = keep_dir();
        fs::remove_all(d);
        fs::create_directories(d);
        fs::copy_file(log, d + "/ops.log");
        fs::copy_file(data, d + "/ops.data");
        materialise(initial, d + "/initial");
    }

    void report(Counts &c, const std::string &model, const std::vector<std::string> &lines) const {
        std::ostringstream o;
        o << "CRASH-SUMMARY\t" << scenario().name << "\t" << model << "\t" << c.points << "\t" << c.states << "\t"
          << c.distinct << "\t" << c.crc_proven << "\t" << c.errors << "\t" << c.fault_runs << "\t" << c.faults << "\t"
          << c.violations + c.fault_violations << "\t" << c.seconds;
        std::cout << o.str() << std::endl;
        if (const char *f = std::getenv("BLOBFETCH_CRASH_SUMMARY"); f && *f) {
            std::ofstream out(f, std::ios::app);
            out << o.str() << "\n";
        }
        for (const auto &l : lines) std::cout << l << "\n";
    }

    // BLOBFETCH_CRASH_REPRO=<kept dir>:<model>:<k>:<state label>: rebuilds
    // that one state from the kept log and reruns recovery on it, keeping
    // the directory (<kept dir>/state-before and state-after).
    void reproduce(const std::string &spec) {
        const std::size_t a = spec.find(':'), b = spec.find(':', a + 1), c = spec.find(':', b + 1);
        ASSERT_NE(c, std::string::npos) << "BLOBFETCH_CRASH_REPRO=<dir>:<model>:<k>:<label>";
        const std::string dir = spec.substr(0, a), mname = spec.substr(a + 1, b - a - 1), label = spec.substr(c + 1);
        const std::size_t k = std::stoul(spec.substr(b + 1, c - b - 1));
        if (fs::path(dir).filename() != scenario().name) GTEST_SKIP() << "another scenario's reproducer";
        const Model mdl = mname == "posix" ? Model::posix : Model::ext4_ordered;
        CrashModel model(parse_log(test::read_file(dir + "/ops.log")), read_tree(dir + "/initial"),
                         test::read_file(dir + "/ops.data"));
        std::mt19937_64 rng(seed_for(k, mdl));
        const bool sampled = label.rfind("sample#", 0) == 0;
        for (const CrashChoice &choice : model.states(k, mdl, kMaxSingles, sampled ? kSamples : 0, rng)) {
            if (choice.label != label) continue;
            const Tree t = model.crash_tree(k, choice);
            fs::remove_all(dir + "/state-before");
            materialise(t, dir + "/state-before");
            settle_server();
            Verdict v = recover(t);
            fs::remove_all(dir + "/state-after");
            fs::copy(m_root + "/state", dir + "/state-after", fs::copy_options::recursive);
            std::cout << "state " << label << " after " << k << " operations: " << dir << "/state-before; after recovery and gc: "
                      << dir << "/state-after\n";
            for (const auto &line : v.violations) std::cout << "  " << line << "\n";
            EXPECT_TRUE(v.violations.empty());
            return;
        }
        FAIL() << "no state '" << label << "' at crash point " << k;
    }

    static std::uint64_t seed_for(std::size_t k, Model mdl) {
        return kSeed ^ (k * 0x9e3779b97f4a7c15ull) ^ static_cast<std::uint64_t>(mdl);
    }

    test::TempDir m_tmp;
    std::string m_root;
    FaultServer m_server;
};

std::string choice_text(const CrashModel &m, const CrashChoice &c) {
    std::string s;
    std::size_t shown = 0;
    for (std::size_t i : c.lost) {
        if (shown++ == 12) {
            s += "    ... " + std::to_string(c.lost.size() - 12) + " more\n";
            break;
        }
        s += "    dropped #" + std::to_string(i) + ": " + m.op(i).line + "\n";
    }
    for (const auto &[i, mask] : c.pages) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(mask));
        s += "    partly kept #" + std::to_string(i) + " (page mask " + buf + "): " + m.op(i).line + "\n";
    }
    return s;
}

TEST_P(Crash, EveryCrashStateAndEveryFault_RecoversWithoutAWrongPublishedFile) {
    const Scenario &sc = scenario();
    const auto t0 = Clock::now();
    ASSERT_TRUE(fs::exists(bin() + "/blobfetch")) << bin();
    ASSERT_TRUE(fs::exists(recorder())) << recorder();
    if (const std::string repro = env_or("BLOBFETCH_CRASH_REPRO", ""); !repro.empty()) return reproduce(repro);
    const std::string only_fault = env_or("BLOBFETCH_CRASH_FAULT", "");

    // What the recorded run starts from.
    Tree initial;
    if (sc.resumed) {
        initial = interrupted_state();
        bool has = false;
        for (const auto &[p, b] : initial.files) has = has || p.ends_with(".part") || p.ends_with(".dlstate");
        ASSERT_TRUE(has) << "the interrupted fetch left nothing to resume";
    }
    const std::string cache = m_root + "/cache";
    const std::string log = m_root + "/ops.log", data = m_root + "/ops.data";
    materialise(initial, cache);
    reset_server(true);
    ProcessResult rec = fetch(cache, 2, recorder_env(cache, log, data));
    ASSERT_EQ(rec.exit_code, 0) << rec.err;
    for (const BlobDef &b : sc.blobs) ASSERT_TRUE(allowed(b).count(test::read_file(cache + "/" + b.rel()))) << b.rel();
    const std::string log_text = test::read_file(log);
    CrashModel model(parse_log(log_text), initial, test::read_file(data));
    ASSERT_GT(model.size(), 0u);
    keep(log, data, initial);
    settle_server();
    if (env_or("BLOBFETCH_CRASH_RECORD_ONLY", "0") == "1") {
        std::cout << "recorded " << model.size() << " operations in " << cache << "; kept in " << keep_dir() << "\n";
        return;
    }
    std::cout << "scenario " << sc.name << ": " << model.size() << " operations recorded; seed " << kSeed
              << (exhaustive() ? " (exhaustive: sampled combinations too)" : "") << "; kept in " << keep_dir() << "\n";

    // Crash states, both models; verdicts are shared by equal directories.
    std::map<std::string, Verdict> verdicts;
    std::vector<std::string> failures;
    const std::string filter = ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() +
                               std::string(".") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::map<Model, Counts> per_model;
    for (Model mdl : {Model::posix, Model::ext4_ordered}) {
        Counts &c = per_model[mdl];
        const auto m0 = Clock::now();
        for (std::size_t k = 0; k <= model.size(); ++k) {
            ++c.points;
            if (!only_fault.empty()) break;
            std::mt19937_64 rng(seed_for(k, mdl));
            const auto states = model.states(k, mdl, kMaxSingles, exhaustive() ? kSamples : 0, rng);
            for (const CrashChoice &choice : states) {
                ++c.states;
                const Tree t = model.crash_tree(k, choice);
                const std::string digest = tree_digest(t);
                auto it = verdicts.find(digest);
                if (it == verdicts.end()) {
                    ++c.distinct;
                    it = verdicts.emplace(digest, recover(t)).first;
                    if (it->second.crc_proven) ++c.crc_proven;
                    if (it->second.prefix_claimed) ++c.prefixes;
                    if (!it->second.recovered) ++c.errors;
                    if (!it->second.violations.empty()) {
                        ++c.violations;
                        std::string msg = "VIOLATION [" + sc.name + ", " + model_name(mdl) + "] crash after " +
                                          std::to_string(k) + " of " + std::to_string(model.size()) + " operations" +
                                          (k ? " (last: #" + std::to_string(k - 1) + " " + model.op(k - 1).line + ")" : "") +
                                          ", state " + choice.label + "\n";
                        for (const auto &s : it->second.violations) msg += "  " + s + "\n";
                        msg += choice_text(model, choice);
                        msg += "  reproduce: BLOBFETCH_CRASH_REPRO='" + keep_dir() + ":" + model_name(mdl) + ":" +
                               std::to_string(k) + ":" + choice.label + "' " + test::bin_dir() +
                               "/blobfetch_crash_tests --gtest_filter='" + filter + "'" +
                               (bin() != test::bin_dir() ? " (with BLOBFETCH_CRASH_BIN_DIR=" + bin() + ")" : "") + "\n";
                        failures.push_back(msg);
                    }
                }
            }
        }
        c.seconds = std::chrono::duration<double>(Clock::now() - m0).count();
    }

    // Fault injection: the N-th operation of each class fails, for every N.
    Counts faults;
    std::map<std::string, std::size_t> per_class;
    for (const Op &op : model.size() ? std::vector<Op>(parse_log(log_text)) : std::vector<Op>{}) {
        if (op.kind == OpKind::fsync || op.kind == OpKind::fdatasync) ++per_class["sync"];
        if (op.kind == OpKind::write) ++per_class["write"];
        if (op.kind == OpKind::rename) ++per_class["rename"];
        if (op.kind == OpKind::open) ++per_class["open"];
        if (op.kind == OpKind::fail) ++per_class[op.path == "fdatasync" || op.path == "fsync" ? "sync" : op.path];
    }
    const std::vector<std::pair<std::string, std::string>> classes{
        {"sync", "EIO"}, {"write", "ENOSPC"}, {"write", "EIO"}, {"rename", "EIO"}, {"open", "EACCES"}};
    const auto f0 = Clock::now();
    for (const auto &[cls, err] : classes) {
        // A failed sync matters most where a checkpoint runs mid-transfer: paced like the recording.
        const bool paced = cls == "sync";
        for (std::size_t n = 1; n <= per_class[cls]; ++n) {
            const std::string spec = cls + ":" + std::to_string(n) + ":" + err;
            if (!only_fault.empty() && spec != only_fault) continue;
            const std::string fcache = m_root + "/fault";
            const std::string flog = m_root + "/fault.log", fdata = m_root + "/fault.data";
            fs::remove_all(fcache);
            fs::remove(flog);
            fs::remove(fdata);
            materialise(initial, fcache);
            reset_server(paced);
            ProcessResult r = fetch(fcache, 2, recorder_env(fcache, flog, fdata, spec));
            settle_server();
            ++faults.fault_runs;
            const std::string flog_text = test::read_file(flog);
            if (flog_text.find("inject\t") == std::string::npos) continue;  // this run had fewer such operations
            ++faults.faults;
            std::vector<std::string> bad;
            const Tree t = read_tree(fcache);
            for (const BlobDef &b : sc.blobs) {
                auto it = t.files.find(b.rel());
                if (it != t.files.end() && !allowed(b).count(it->second))
                    bad.push_back("the faulty run left wrong bytes under '" + b.rel() + "' (exit " + std::to_string(r.exit_code) + ")");
                if (r.exit_code == 0 && it == t.files.end()) bad.push_back("the faulty run exited 0 without '" + b.rel() + "'");
            }
            if (r.exit_code != 0 && r.err.empty()) bad.push_back("the faulty run failed without a message");
            Verdict v = recover(t);
            bad.insert(bad.end(), v.violations.begin(), v.violations.end());
            if (!bad.empty()) {
                ++faults.fault_violations;
                std::string msg = "VIOLATION [" + sc.name + ", fault " + spec + "]\n";
                for (const auto &s : bad) msg += "  " + s + "\n";
                msg += "  faulty run exit " + std::to_string(r.exit_code) + ", stderr:\n" + r.err.substr(0, 1500);
                std::string injected;
                for (const Op &op : parse_log(flog_text))
                    if (op.kind == OpKind::inject || op.kind == OpKind::drop) injected += "    " + op.line + "\n";
                msg += "  injected:\n" + injected;
                msg += "  reproduce: BLOBFETCH_CRASH_FAULT='" + spec + "' " + test::bin_dir() +
                       "/blobfetch_crash_tests --gtest_filter='" + filter + "'\n";
                failures.push_back(msg);
            }
        }
    }
    faults.seconds = std::chrono::duration<double>(Clock::now() - f0).count();

    for (Model mdl : {Model::posix, Model::ext4_ordered}) {
        Counts c = per_model[mdl];
        c.faults = faults.faults;
        c.fault_runs = faults.fault_runs;
        c.fault_violations = faults.fault_violations;
        report(c, model_name(mdl), {});
    }
    std::cout << "scenario " << sc.name << ": fault injection " << faults.fault_runs << " runs, " << faults.faults
              << " faults injected, " << faults.seconds << " s; total " << std::chrono::duration<double>(Clock::now() - t0).count()
              << " s\n";
    for (const auto &f : failures) std::cout << f;
    EXPECT_TRUE(failures.empty()) << failures.size() << " violating states or faults (printed above)";
    if (only_fault.empty() && sc.chunk > (256 << 10)) {
        // Chunks larger than the write buffers: the v2 prefixes were exercised
        // (states whose record claims a prefix with the right bytes, each
        // held to the bound "blob - durable (prefixes included) + one chunk
        // per connection"), or this scenario proved nothing about them.
        const std::size_t prefixes = per_model[Model::posix].prefixes + per_model[Model::ext4_ordered].prefixes;
        std::cout << "scenario " << sc.name << ": " << prefixes << " distinct states with a record claiming received prefixes\n";
        EXPECT_GT(prefixes, 0u) << "no crash state had a record with a received prefix (format v2)";
    }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Crash, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario> &info) { return info.param.name; });

}  // namespace
}  // namespace blobfetch::crash
