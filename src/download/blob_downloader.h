#pragma once
// Downloads one blob into its final place in the cache: transfer to a
// temporary file beside it, verify size and SHA-256, then rename into place.
// A file that fails verification is never published under the final name.

#include <filesystem>
#include <memory>

#include "base/cancellation.h"
#include "base/log.h"
#include "download/blob_spec.h"
#include "download/fetch_progress.h"
#include "net/retry_policy.h"
#include "net/transport.h"

namespace blobfetch {

struct BlobDownloadOptions {
    RetryPolicy retry;
    bool durable = true;  // fdatasync the data before publishing it
};

// Thread safety: one call per blob; distinct blobs may run concurrently, each
// with its own transport.
class IBlobDownloader {
public:
    virtual ~IBlobDownloader() = default;
    virtual BlobOutcome download(const BlobSpec &spec, std::size_t index, const std::filesystem::path &final_path,
                                 ITransport &transport, FetchProgress &progress, const CancellationToken &cancel,
                                 const Logger &log) = 0;
};

// One GET per attempt, streamed to a temporary file while hashing.
std::unique_ptr<IBlobDownloader> make_stream_blob_downloader(BlobDownloadOptions options);

}  // namespace blobfetch
