#pragma once
// HTTP(S)/file transfers: many requests in flight at once, driven from one
// thread by a libcurl multi handle (TransferLoop). Connections are kept alive
// and reused between requests and between fetches.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace blobfetch {

struct HttpRequest {
    std::string url;
    // "Name: value" lines joined by '\n' (secret, never logged). They are
    // bound to one origin (scheme, host, port; see base/url.h): that of
    // `headers_for`, or of `url` when it is empty. They are sent only to that
    // origin, also across redirects.
    std::string headers;
    std::string headers_for;
    std::int64_t range_begin = -1;  // request bytes [range_begin, range_end); -1: no Range header
    std::int64_t range_end = -1;    // -1 with range_begin >= 0: to the end ("bytes=N-")
    std::string if_range;           // ETag or HTTP-date for If-Range; empty: none
};

// The head of the final response (after redirects).
struct ResponseHead {
    std::string url;                  // the URL that gave this response (differs from the request's after redirects)
    long status = 0;                  // HTTP status; 0 for file://
    std::int64_t content_length = -1; // -1 when not announced
    std::string content_range;        // raw Content-Range value, "" when absent
    std::string etag;
    std::string last_modified;
    std::optional<std::chrono::seconds> retry_after;
};

struct TransferOutcome {
    Status status;              // ok, or why the transfer failed
    bool retryable = false;     // a transient failure worth retrying
    ResponseHead head;
    std::int64_t body_bytes = 0;  // body bytes handed to the handler
};

// Receives one response. Called on the thread that runs the loop, from
// inside TransferLoop::run().
class ITransferHandler {
public:
    virtual ~ITransferHandler() = default;
    // Once for a successful (2xx, or file://) response, before any body byte
    // (also for an empty body). A non-ok status aborts the transfer and
    // becomes its outcome. Error responses never reach the handler: their
    // body is discarded (read only up to TransportOptions' error-body
    // bounds) and the status becomes the outcome.
    virtual Status on_head(const ResponseHead &head) = 0;
    // Body bytes in order. A non-ok status aborts the transfer.
    virtual Status on_body(const char *data, std::size_t len) = 0;
    // Asked before each on_body: false pauses the transfer (nothing of the
    // piece is consumed) until TransferLoop::resume_paused(). Back-pressure
    // for a writer that is behind.
    virtual bool accepting(std::size_t len) {
        (void)len;
        return true;
    }
};

struct TransportOptions {
    std::chrono::milliseconds connect_timeout{15'000};
    std::chrono::milliseconds stall_timeout{30'000};  // abort (retryable) when slower than stall_min_speed this long
    std::int64_t stall_min_speed = 1024;              // bytes/s; 0 disables stall detection
    std::string ca_file;                              // "" = system CA store
    std::string user_agent;                           // "" = "blobfetch/<version>"
    // Redirects (301, 302, 303, 307, 308) are followed by the loop itself, at
    // most this many per request: never from https to http; a hop to another
    // origin goes without the request's headers and URL credentials.
    int max_redirects = 5;
    // The body of a response that is no 2xx (an error page, a redirect's
    // page) is read and discarded for at most this many bytes and this long
    // after its head ended; past either bound the transfer is cut (its
    // connection closed) and its status acted on as if the body had ended: a
    // 404 is a miss, a 503 a retry, a redirect followed. So a body that never
    // ends, or trickles, cannot hold a transfer. Stall detection does not
    // apply to such a body: the time bound does.
    std::int64_t error_body_limit = 64 * 1024;
    std::chrono::milliseconds error_body_timeout{5'000};
};

using TransferId = std::uint64_t;

// Runs up to `capacity` HTTP/1.1 transfers at once on one thread. Not
// thread-safe, except wakeup(): one thread calls everything else.
class TransferLoop {
public:
    TransferLoop(TransportOptions options, std::size_t capacity);
    ~TransferLoop();
    TransferLoop(const TransferLoop &) = delete;
    TransferLoop &operator=(const TransferLoop &) = delete;

    std::size_t capacity() const;
    std::size_t active() const;

    // Starts a request. Precondition: active() < capacity(). `handler` must
    // stay valid until run() returns the transfer's outcome or abort(id)
    // returns. An invalid request fails in its outcome, never here.
    TransferId start(const HttpRequest &request, ITransferHandler &handler);
    // Stops a transfer now: none of its handler's functions runs afterwards
    // and no outcome is returned for it. Safe inside handler callbacks.
    void abort(TransferId id);
    // Drives the transfers for at most `timeout`, returning as soon as any
    // finished or wakeup() was called. Handlers are called from in here.
    // Returns the outcomes of the transfers that finished (stalled transfers
    // finish with a retryable Errc::network outcome; an error page cut at its
    // bound finishes with its status's outcome, as if it had ended).
    std::vector<std::pair<TransferId, TransferOutcome>> run(std::chrono::milliseconds timeout);
    // Makes a blocked run() return promptly. Thread-safe, async-signal-unsafe.
    void wakeup();
    // Lets every paused transfer go on (its handler is asked again). Not from
    // inside a handler callback.
    void resume_paused();
    // Transfers paused by their handler's accepting().
    std::size_t paused() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace blobfetch
