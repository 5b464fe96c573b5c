#pragma once
// HTTP(S)/file transfers: the ITransport interface the download layer uses,
// and its libcurl implementation.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/cancellation.h"
#include "base/status.h"

namespace blobfetch {

struct HttpRequest {
    std::string url;
    std::string headers;            // "Name: value" lines joined by '\n' (secret, never logged)
    std::int64_t range_begin = -1;  // request bytes [range_begin, range_end); -1: whole body
    std::int64_t range_end = -1;
    std::string if_range;           // ETag or HTTP-date for If-Range; empty: none
};

// The head of the final response (after redirects).
struct ResponseHead {
    long status = 0;                  // HTTP status; 0 for file://
    std::int64_t content_length = -1; // -1 when not announced
    std::string content_range;        // raw Content-Range value, "" when absent
    std::string etag;
    std::string last_modified;
    std::optional<std::chrono::seconds> retry_after;
};

// Receives one response. Thread safety: called on the transfer's thread only.
class IBodySink {
public:
    virtual ~IBodySink() = default;
    // Called once for a successful (2xx or file://) response, before any body
    // byte. A non-ok status aborts the transfer and becomes its outcome.
    virtual Status on_response(const ResponseHead &head) = 0;
    // Body bytes in order. A non-ok status aborts the transfer.
    virtual Status on_body(const char *data, std::size_t len) = 0;
};

struct TransferOutcome {
    Status status;              // ok, or why the transfer failed
    bool retryable = false;     // a transient failure worth retrying
    ResponseHead head;
    std::int64_t body_bytes = 0;  // body bytes handed to the sink
};

// Performs one request at a time. Implementations keep connections alive
// between calls. Not thread-safe: one instance per worker thread.
class ITransport {
public:
    virtual ~ITransport() = default;
    // Blocks until the response is complete, failed, or `cancel` fires (then
    // returns Errc::cancelled within about 100 ms).
    virtual TransferOutcome perform(const HttpRequest &request, IBodySink &sink,
                                    const CancellationToken &cancel) = 0;
};

struct TransportOptions {
    std::chrono::milliseconds connect_timeout{15'000};
    std::chrono::milliseconds stall_timeout{30'000};  // abort when slower than stall_min_speed this long
    std::int64_t stall_min_speed = 1;                 // bytes/s; 0 disables stall detection
    std::string ca_file;                              // "" = system CA store
    std::string user_agent;                           // "" = "blobfetch/<version>"
    int max_redirects = 5;
};

std::unique_ptr<ITransport> make_curl_transport(const TransportOptions &options);

}  // namespace blobfetch
