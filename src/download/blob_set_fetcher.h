#pragma once
// The blob-set fetch: skip what is already cached, download the rest with a
// bounded number of concurrent transfers, report progress from the calling
// thread, and give every blob its own outcome.

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "base/cancellation.h"
#include "base/log.h"
#include "config/provider_options.h"
#include "download/blob_spec.h"
#include "download/fetch_progress.h"
#include "net/transport.h"

namespace blobfetch {

struct FetchResult {
    Status status;                     // ok, partial (some blobs failed) or cancelled
    std::vector<BlobOutcome> blobs;    // one per spec, in order
};

// Thread safety: one fetch() at a time per instance (the C ABI's session
// rule). Live connections are kept between fetches.
class BlobSetFetcher {
public:
    explicit BlobSetFetcher(config::ProviderOptions options);

    // Blocks until every blob is done, failed or cancelled. `progress` is
    // called only on the calling thread (about 10 times a second, on each
    // state change, and once at the end); returning true cancels. Specs must
    // carry safe relative paths (checked by the caller).
    FetchResult fetch(const std::filesystem::path &cache_dir, const std::vector<BlobSpec> &specs,
                      const ProgressFn &progress, const Logger &log);

private:
    // The work of fetch(): the skip pass, then the engine. Runs on a thread
    // of its own; fills `result.blobs`.
    void run_phases(const std::filesystem::path &cache_dir, const std::vector<BlobSpec> &specs, FetchResult &result,
                    FetchProgress &progress, const CancellationToken &token, const Logger &log);

    config::ProviderOptions m_options;
    // Kept between fetches so their connections are reused; used only by the
    // thread running a fetch.
    TransferLoop m_loop;
};

}  // namespace blobfetch
