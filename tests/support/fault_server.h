#pragma once
// An HTTP/1.1 origin that lives on threads inside the test process, serves
// deterministic blobs (support/blob_content.h) and misbehaves on demand:
// connection resets, short or overlong bodies, stalls, error statuses,
// redirects, ignored or misreported ranges.
//
// Normal behaviour follows RFC 9110 closely enough for libcurl: GET and HEAD,
// persistent connections (HTTP/1.1 keep-alive, `Connection: close` honoured,
// pipelined requests answered in order), single byte ranges (`a-b`, `a-`,
// `-n`) answered 206, multiple or malformed ranges ignored (200), ranges
// starting at or past the end answered 416, If-Range compared by exact string
// against the current strong ETag and Last-Modified. Every response carries
// Content-Length and `Accept-Ranges: bytes`; blob responses carry ETag and
// Last-Modified unless set_send_etag(false).
//
// Thread safety: every public member may be called from any thread while
// requests are being served.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace blobfetch::test {

enum class FaultKind {
    none,
    reset_after,   // send headers and `after_bytes` body bytes, then reset the connection (RST)
    status,        // answer `status` with a small text/html body (+ Retry-After when `retry_after` is set)
    ignore_range,  // answer 200 with the whole body even though a Range was requested; with
                   // `after_bytes` > 0, only that much of it, then FIN
    short_body,    // announce the correct Content-Length, send only `after_bytes` body bytes, then FIN
                   // (with chunked encoding: that many bytes in chunks, no last-chunk marker, FIN; with
                   // `after_bytes` >= the body, every byte arrives and the response still fails)
    stall,         // send headers and `after_bytes` body bytes, then nothing until the client leaves or
                   // the server stops
    extra_bytes,   // send `after_bytes` body bytes beyond the announced Content-Length (the blob's
                   // following bytes), then FIN
    wrong_range,   // answer 206 with a Content-Range (and body) starting `after_bytes` bytes later than requested
    redirect,      // answer `status` (0: 302; else 301, 302, 303, 307 or 308) with `Location: <location>` and a
                   // small text/html body; the connection stays open as for any complete response
    endless_status,  // answer `status` (any: 404, 503, 301...; with `Location: <location>` when it is non-empty and
                     // `Retry-After` as for `status`) with a text/html body that never ends: no Content-Length
                     // and no chunked framing (a body that lasts until the connection ends, with
                     // `Connection: close`), the error page repeated until the client leaves or the server stops,
                     // paced at `bytes_per_second` (a trickle) when it is > 0
    endless_body,    // answer 200 (Range ignored) without Content-Length whose body never ends: the blob's bytes
                     // and then the bytes that follow them (blob_bytes past the size), until the client leaves or
                     // the server stops; chunked (never terminated) under set_chunked_encoding(true), else lasting
                     // until the connection ends; paced at `bytes_per_second` when it is > 0
};

// The name used in RequestRecord::fault: "reset_after", "status", ...; "" for none.
const char *fault_kind_name(FaultKind kind);

struct Fault {
    FaultKind kind = FaultKind::none;
    std::int64_t after_bytes = 0;  // body bytes sent before the fault (reset_after, short_body, stall),
                                   // or the excess (extra_bytes) or shift (wrong_range)
    int status = 0;                // FaultKind::status and FaultKind::redirect only
    std::string retry_after;       // FaultKind::status only; sent as Retry-After when non-empty
    std::string location;          // FaultKind::redirect only: sent verbatim as Location (an absolute URL or
                                   // a relative reference); "" sends no Location (a redirect nobody can follow)
    // Any kind: once this response is planned, the blob at the request's path
    // is replaced by (change_seed, change_size) with new validators, as
    // change_blob() does; this response still carries the old content. -1: no
    // change. (A remote that changes at an exact moment of a download.)
    std::int64_t change_size = -1;
    std::uint64_t change_seed = 0;
    // Any kind with a blob body: its first `corrupt_prefix` bytes are sent as
    // 0xEE instead (a server that lies about part of the content).
    std::int64_t corrupt_prefix = 0;
    // endless_status and endless_body: body bytes per second (0: as fast as
    // the client reads, or at set_rate_limit()'s pace).
    std::int64_t bytes_per_second = 0;
};

// Body-shaping faults (reset_after, short_body, stall) never send more than
// the announced body; after_bytes < 0 counts as 0. ignore_range, extra_bytes,
// wrong_range and endless_body only change responses for known blobs; status,
// endless_status and redirect apply to every path and method, known blob or
// not. An endless response is recorded when the client leaves (or the server
// stops), with the body bytes it got so far. A HEAD request never
// gets a body, whatever the fault; the connection still ends as the fault says.
struct FaultRule {
    std::string path;               // "" matches every path
    std::int64_t range_begin = -1;  // match only requests whose Range starts at this offset
                                    // (a suffix range `-n` starts at size - n); -1 matches any request,
                                    // -2 only requests without a Range header
    int times = 1;                  // number of matching requests it applies to; -1: forever
    Fault fault;
};

struct RequestRecord {
    std::string method, path;       // path without query string
    std::string range;              // raw Range header value or ""
    std::string if_range;           // raw If-Range value or ""
    std::string headers;            // all raw request header lines, CRLF-separated (request line excluded)
    int status = 0;                 // status code sent
    std::int64_t body_bytes_sent = 0;  // body bytes handed to the kernel (error pages included)
    std::uint64_t connection = 0;   // serial number of the connection (1, 2, ...)
    std::string fault;              // fault_kind_name() of the applied fault, "" if none
};

// The value of the first request header line of `record` named `name`
// (ASCII case-insensitive), without surrounding blanks; "" when there is no
// such line (or its value is empty: search record.headers to tell them apart).
std::string header(const RequestRecord &record, std::string_view name);

namespace detail {
class FaultServerCore;
}

class FaultServer {
public:
    // Binds 127.0.0.1 on an ephemeral port and starts accepting.
    // Throws std::runtime_error when the socket cannot be set up.
    FaultServer();
    // Binds `bind_address`, a dotted IPv4 address (e.g. "127.0.0.2": on Linux
    // all of 127/8 is loopback), on an ephemeral port.
    explicit FaultServer(std::string bind_address);
    // Binds `bind_address` on `port` (0: ephemeral). Two servers may share a
    // port on different addresses, e.g. 127.0.0.1:p and 127.0.0.2:p: two
    // origins that differ only by host. An explicit port is bound with
    // SO_REUSEADDR, so a port whose previous server has just stopped can be
    // taken again at once (it still fails while another socket listens there).
    // Throws std::runtime_error naming the address and port when the address
    // is not dotted IPv4, the port is outside 0..65535, or the socket cannot
    // be set up (e.g. the address is not local or the port is taken).
    FaultServer(std::string bind_address, int port);
    // Stops: closes the listener and every connection (stalled and paced ones
    // too) and joins all threads; returns within milliseconds.
    ~FaultServer();
    FaultServer(const FaultServer &) = delete;
    FaultServer &operator=(const FaultServer &) = delete;

    int port() const;
    std::string host() const;      // the bound address, e.g. "127.0.0.1"
    std::string base_url() const;  // "http://<host>:<port>"

    // Serves `size` bytes of blob_bytes(seed, ...) at `path` (e.g. "/a/b.bin",
    // matched against the request path without its query string). The ETag
    // is strong and quoted, derived from (seed, size) unless `etag` (given
    // WITHOUT quotes) is non-empty; Last-Modified is a fixed HTTP-date derived
    // from `seed`. Replaces any blob already at `path`.
    void add_blob(const std::string &path, std::uint64_t seed, std::uint64_t size, const std::string &etag = "");
    // Replaces the content and validators at `path` (the remote "changed").
    // Responses already under way finish with the old content.
    void change_blob(const std::string &path, std::uint64_t seed, std::uint64_t size, const std::string &etag = "");
    // Current validators at `path` exactly as sent ("\"...\"" and an
    // HTTP-date); "" for an unknown path. Independent of set_send_etag().
    std::string etag(const std::string &path) const;
    std::string last_modified(const std::string &path) const;

    // Default true; false: send neither ETag nor Last-Modified, and treat
    // every If-Range as a mismatch (a server without validators).
    void set_send_etag(bool on);
    // Sends only the chosen validators (and honours If-Range only on those);
    // set_send_etag(false) still sends none. Default: both.
    void set_validators(bool etag, bool last_modified);
    // Default false; true: blob bodies go with `Transfer-Encoding: chunked`
    // and no Content-Length (a client learns a 200's size only at its end).
    void set_chunked_encoding(bool on);
    // Paces body bytes per connection; 0 (default) = unlimited. Applies to
    // responses that start after the call. Paced waits end at once on stop.
    void set_rate_limit(std::int64_t bytes_per_second_per_connection);

    // Rules are checked in insertion order; the first matching rule with
    // times != 0 applies and its `times` is decremented (unless -1).
    // Throws std::invalid_argument for a redirect whose status is not one of
    // 0, 301, 302, 303, 307, 308 or whose location contains CR or LF.
    void add_rule(FaultRule rule);
    // Appends a rule redirecting the next `times` requests (-1: forever) for
    // exactly `path` (not "": throws std::invalid_argument) to `location`
    // with `status` (see FaultKind::redirect); the same checks as add_rule().
    // Rules added before it take precedence.
    void add_redirect(const std::string &path, const std::string &location, int status = 302, int times = -1);
    void clear_rules();

    // Every request whose response has finished (or was aborted: client gone,
    // reset, stall ended), in completion order. A request is recorded just
    // after its last byte (or RST/FIN) was handed to the kernel, so a client
    // that has just read a response should use wait_for_requests().
    std::vector<RequestRecord> requests() const;
    // Blocks until at least n requests are recorded or 10 s have passed;
    // returns requests() either way.
    std::vector<RequestRecord> wait_for_requests(std::size_t n) const;
    // Total blob body bytes sent for `path` so far (error pages excluded).
    // Counted before each send() and corrected after it, so the figure is
    // never below what a client has received.
    std::int64_t body_bytes_sent(const std::string &path) const;
    std::uint64_t connections_accepted() const;
    int active_connections() const;  // accepted and not yet closed

private:
    std::unique_ptr<detail::FaultServerCore> m_core;
};

}  // namespace blobfetch::test
