// Cancel latency with 16 transfers in flight against a stalling server:
//  - cancel: from the progress callback returning non-zero to fetch() returning;
//  - failing chunk: from fetch() start to its return, when one chunk answers
//    403 at once while its 16 peers stall (the peers must be stopped).
// Each is measured over ROUNDS rounds (default 20); prints median, p90 and max.
//   blobfetch-bench-cancel [ROUNDS]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "config/provider_options.h"
#include "download/blob_set_fetcher.h"
#include "support/fault_server.h"
#include "support/process.h"

using namespace blobfetch;
using namespace blobfetch::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kChunk = 64 * 1024;

FaultRule rule(std::int64_t begin, FaultKind kind, int status = 0) {
    FaultRule r;
    r.range_begin = begin;
    r.times = -1;
    r.fault.kind = kind;
    r.fault.after_bytes = 1000;
    r.fault.status = status;
    return r;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void report(const char *what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("| %s | %zu | %.1f | %.1f | %.1f |\n", what, v.size(), v[v.size() / 2], v[v.size() * 9 / 10],
                v.back());
}

}  // namespace

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
    config::ProviderOptions o;
    o.chunk_size = kChunk;
    o.concurrency = 17;
    o.stall_timeout_ms = 600000;
    std::vector<double> cancel_ms, fail_ms;
    for (int r = 0; r < rounds; ++r) {
        // Cancel with 16 stalled transfers.
        {
            FaultServer server;
            server.add_blob("/b", 1, 16 * kChunk);
            server.add_rule(rule(-1, FaultKind::stall));
            TempDir dir;
            BlobSpec spec{server.base_url() + "/b", "b", 16 * kChunk, "", "", ""};
            std::atomic<bool> stop{false};
            Clock::time_point asked{};
            BlobSetFetcher fetcher(o);
            std::thread watcher([&] {
                while (server.active_connections() < 16) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                stop = true;
            });
            fetcher.fetch(dir.path(), {spec},
                          [&](const ProgressEvent &) {
                              if (!stop) return false;
                              if (asked == Clock::time_point{}) asked = Clock::now();
                              return true;
                          },
                          Logger());
            cancel_ms.push_back(ms(Clock::now() - asked));
            watcher.join();
        }
        // One chunk fails for good while 16 peers stall.
        {
            FaultServer server;
            server.add_blob("/b", 2, 17 * kChunk);
            server.add_rule(rule(16 * kChunk, FaultKind::status, 403));
            server.add_rule(rule(-1, FaultKind::stall));
            TempDir dir;
            BlobSpec spec{server.base_url() + "/b", "b", 17 * kChunk, "", "", ""};
            BlobSetFetcher fetcher(o);
            const auto t0 = Clock::now();
            fetcher.fetch(dir.path(), {spec}, {}, Logger());
            fail_ms.push_back(ms(Clock::now() - t0));
        }
    }
    std::printf("| case (16 transfers in flight, loopback) | rounds | median ms | p90 ms | max ms |\n");
    std::printf("|---|---|---|---|---|\n");
    report("cancel: callback returns non-zero -> fetch() returns", cancel_ms);
    report("failing chunk: whole fetch() incl. 17 requests", fail_ms);
    return 0;
}
