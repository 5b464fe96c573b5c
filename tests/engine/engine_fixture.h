#pragma once
// Shared setup of the engine tests: a fault server on 127.0.0.1, a cache
// directory, and BlobSetFetcher runs with captured logs.

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/provider_options.h"
#include "download/blob_set_fetcher.h"
#include "download/partial_file.h"
#include "state/download_state.h"
#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/process.h"

namespace blobfetch::test {

namespace fs = std::filesystem;

constexpr std::int64_t kChunk = 64 * 1024;  // the smallest chunk size the options allow

inline Fault fault(FaultKind kind, std::int64_t after_bytes = 0, int status = 0, std::string retry_after = "") {
    Fault f;
    f.kind = kind;
    f.after_bytes = after_bytes;
    f.status = status;
    f.retry_after = std::move(retry_after);
    return f;
}
// A rule for every path: requests whose Range starts at `range_begin` (-1:
// any request), the next `times` of them (-1: forever).
inline FaultRule rule(std::int64_t range_begin, int times, Fault f) {
    FaultRule r;
    r.range_begin = range_begin;
    r.times = times;
    r.fault = std::move(f);
    return r;
}

class EngineTest : public ::testing::Test {
protected:
    config::ProviderOptions options() const {
        config::ProviderOptions o;
        o.chunk_size = kChunk;
        o.concurrency = 8;
        o.retries = 3;
        o.stall_timeout_ms = 2000;
        return o;
    }

    // One transfer at a time, no retries: a failing chunk ends the fetch.
    config::ProviderOptions serial_without_retries() const {
        auto o = options();
        o.retries = 0;
        o.concurrency = 1;
        return o;
    }

    // Fetches `b` with serial_without_retries() while every chunk from
    // `broken` on answers 500: chunks [0, broken) land and are recorded, then
    // the fetch fails. The fault stays until server.clear_rules().
    FetchResult fetch_failing_from_chunk(const BlobSpec &b, std::int64_t broken) {
        server.add_rule(rule(broken * kChunk, -1, fault(FaultKind::status, 0, 500)));
        return fetch({b}, serial_without_retries());
    }

    // Serves blob `name` (seed, size; with `etag`, given without quotes,
    // instead of the one derived from them) and returns its descriptor.
    BlobSpec blob(const std::string &name, std::uint64_t seed, std::int64_t size, bool with_sha = true,
                  const std::string &etag = "") {
        const std::string path = "/blobs/" + name;
        server.add_blob(path, seed, static_cast<std::uint64_t>(size), etag);
        BlobSpec s;
        s.url = server.base_url() + path;
        s.path = "cache/" + name;
        s.size = size;
        if (with_sha) s.sha256 = sha256_hex(blob_content(seed, static_cast<std::size_t>(size)));
        return s;
    }

    FetchResult fetch(const std::vector<BlobSpec> &specs, const config::ProviderOptions &o,
                      const ProgressFn &progress = {}) {
        BlobSetFetcher fetcher(o);
        Logger log([this](LogLevel, std::string_view m) {
            std::lock_guard lock(m_log_mutex);
            m_logs.emplace_back(m);
        });
        return fetcher.fetch(dir.path(), specs, progress, log);
    }
    FetchResult fetch(const std::vector<BlobSpec> &specs) { return fetch(specs, options()); }

    std::string logs() {
        std::lock_guard lock(m_log_mutex);
        std::string all;
        for (const auto &l : m_logs) all += l + "\n";
        return all;
    }
    void clear_logs() {
        std::lock_guard lock(m_log_mutex);
        m_logs.clear();
    }

    fs::path final_path(const BlobSpec &s) const { return fs::path(dir.path()) / s.path; }
    PartialPaths partial(const BlobSpec &s) const { return partial_paths(dir.path(), s.path); }
    std::string published(const BlobSpec &s) const {
        return fs::exists(final_path(s)) ? read_file(final_path(s).string()) : std::string("<missing>");
    }
    // Temporary or partial files anywhere in the cache.
    std::vector<std::string> leftovers() const {
        std::vector<std::string> out;
        if (!fs::exists(dir.path())) return out;
        for (const auto &e : fs::recursive_directory_iterator(dir.path())) {
            const std::string n = e.path().filename().string();
            if (n.ends_with(".part") || n.ends_with(".dlstate") || n.ends_with(".tmp")) out.push_back(e.path().string());
        }
        return out;
    }
    // Requests for one blob's path since the last forget_requests(), in
    // completion order.
    std::vector<RequestRecord> requests_for(const BlobSpec &s) const {
        std::vector<RequestRecord> out;
        std::string path = s.url.substr(server.base_url().size());
        path = path.substr(0, path.find('?'));
        auto all = server.requests();
        for (std::size_t i = m_request_mark; i < all.size(); ++i)
            if (all[i].path == path) out.push_back(all[i]);
        return out;
    }
    // Waits until the server has recorded `expected` requests in all, then
    // ignores them from here on.
    void forget_requests(std::size_t expected) { m_request_mark = server.wait_for_requests(expected).size(); }
    static std::string range_of(std::int64_t chunk) {
        return "bytes=" + std::to_string(chunk * kChunk) + "-" + std::to_string((chunk + 1) * kChunk - 1);
    }

    FaultServer server;
    TempDir dir;

private:
    std::size_t m_request_mark = 0;
    std::mutex m_log_mutex;
    std::vector<std::string> m_logs;
};

}  // namespace blobfetch::test
