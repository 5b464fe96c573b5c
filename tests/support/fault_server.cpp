#include "support/fault_server.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <list>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

#include "support/blob_content.h"

namespace blobfetch::test {

const char *fault_kind_name(FaultKind kind) {
    switch (kind) {
    case FaultKind::none: return "";
    case FaultKind::reset_after: return "reset_after";
    case FaultKind::status: return "status";
    case FaultKind::ignore_range: return "ignore_range";
    case FaultKind::short_body: return "short_body";
    case FaultKind::stall: return "stall";
    case FaultKind::extra_bytes: return "extra_bytes";
    case FaultKind::wrong_range: return "wrong_range";
    case FaultKind::redirect: return "redirect";
    case FaultKind::endless_status: return "endless_status";
    case FaultKind::endless_body: return "endless_body";
    }
    return "unknown";
}

namespace detail {
namespace {

using Clock = std::chrono::steady_clock;

// Request line + header block; guarantees that 16 KiB of headers are accepted.
constexpr std::size_t kMaxHeadBytes = 32 * 1024;
constexpr std::size_t kPieceBytes = 256 * 1024;
constexpr std::int64_t kMaxRequestBody = 1 << 20;
// How long a closing connection waits for its sent data to be acknowledged.
constexpr auto kDrainLimit = std::chrono::seconds(2);

std::string lower(std::string_view s) {
    std::string out(s);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Non-empty decimal digits only, at most 18 of them (no overflow).
bool parse_decimal(std::string_view s, std::int64_t &out) {
    if (s.empty() || s.size() > 18) return false;
    std::int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

// True if the comma-separated header value contains `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view item = trim(value.substr(0, comma));
        if (lower(item) == token) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

enum class RangeKind { none, satisfiable, unsatisfiable };

struct RangeSpec {
    RangeKind kind = RangeKind::none;
    std::int64_t first = -1;  // start offset as requested (suffix: size - n); -1 when unknown
    std::int64_t last = -1;   // inclusive, clamped to size - 1 (satisfiable only)
};

// Interprets a Range header value for a representation of `size` bytes.
// Only a single `bytes=` range is honoured; anything else is `none` (ignored).
RangeSpec parse_range(std::string_view value, std::int64_t size) {
    RangeSpec r;
    std::string_view v = trim(value);
    if (v.size() < 6 || lower(v.substr(0, 6)) != "bytes=") return r;
    std::string_view spec = trim(v.substr(6));
    if (spec.find(',') != std::string_view::npos) return r;
    std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return r;
    std::string_view a = trim(spec.substr(0, dash));
    std::string_view b = trim(spec.substr(dash + 1));
    if (a.empty()) {
        std::int64_t n = 0;
        if (!parse_decimal(b, n)) return r;
        if (n == 0 || size == 0) {
            r.kind = RangeKind::unsatisfiable;
            return r;
        }
        r.kind = RangeKind::satisfiable;
        r.first = std::max<std::int64_t>(0, size - n);
        r.last = size - 1;
        return r;
    }
    std::int64_t first = 0, last = -1;
    if (!parse_decimal(a, first)) return r;
    if (!b.empty() && (!parse_decimal(b, last) || last < first)) return r;
    r.first = first;
    if (first >= size) {
        r.kind = RangeKind::unsatisfiable;
        return r;
    }
    r.kind = RangeKind::satisfiable;
    r.last = b.empty() ? size - 1 : std::min(last, size - 1);
    return r;
}

std::string http_date(std::time_t t) {
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

std::string html_page(int status) {
    std::string title = std::to_string(status) + " " + reason_phrase(status);
    return "<html><head><title>" + title + "</title></head><body><h1>" + title + "</h1></body></html>\n";
}

struct Blob {
    std::uint64_t seed = 0;
    std::int64_t size = 0;
    std::string etag;           // quoted
    std::string last_modified;  // HTTP-date
};

Blob make_blob(std::uint64_t seed, std::uint64_t size, const std::string &etag) {
    Blob b;
    b.seed = seed;
    b.size = static_cast<std::int64_t>(size);
    if (etag.empty()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(seed),
                      static_cast<unsigned long long>(size));
        b.etag = buf;
    } else {
        b.etag = "\"" + etag + "\"";
    }
    b.last_modified = http_date(static_cast<std::time_t>(1'500'000'000 + seed % 300'000'000));
    return b;
}

struct Request {
    std::string method, path, version;
    std::string header_block;                                  // raw lines, CRLF-separated
    std::vector<std::pair<std::string, std::string>> headers;  // lower-cased names, trimmed values
    bool keep_alive = true;
    std::int64_t content_length = 0;

    const std::string *find(std::string_view name) const {
        for (const auto &h : headers)
            if (h.first == name) return &h.second;
        return nullptr;
    }
};

// Parses a request head (request line and header lines, without the blank
// line). Returns 0 on success or the status to answer before closing.
int parse_request_head(std::string_view head, Request &req) {
    std::vector<std::string_view> lines;
    while (!head.empty()) {
        std::size_t nl = head.find('\n');
        std::string_view line = head.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        if (nl == std::string_view::npos) break;
        head.remove_prefix(nl + 1);
    }
    if (lines.empty()) return 400;

    std::string_view rl = lines[0];
    std::size_t sp1 = rl.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) return 400;
    req.method = std::string(rl.substr(0, sp1));
    std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
    req.version = std::string(rl.substr(sp2 + 1));
    if (req.version.rfind("HTTP/1.", 0) != 0 || target.find(' ') != std::string_view::npos) return 400;
    // absolute-form: drop scheme and authority
    if (std::size_t scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
        std::size_t slash = target.find('/', scheme + 3);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    req.path = std::string(target.substr(0, target.find_first_of("?#")));
    if (req.path.empty()) req.path = "/";

    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::string_view line = lines[i];
        if (line.empty()) break;  // the blank line ending the head
        std::size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos) return 400;
        std::string_view name = line.substr(0, colon);
        if (name.find_first_of(" \t") != std::string_view::npos) return 400;
        req.headers.emplace_back(lower(name), std::string(trim(line.substr(colon + 1))));
        if (!req.header_block.empty()) req.header_block += "\r\n";
        req.header_block += line;
    }

    bool close = false, keep = false;
    for (const auto &h : req.headers)
        if (h.first == "connection") {
            close = close || has_token(h.second, "close");
            keep = keep || has_token(h.second, "keep-alive");
        }
    req.keep_alive = req.version == "HTTP/1.0" ? keep && !close : !close;

    if (req.find("transfer-encoding")) return 400;  // request bodies are only framed by Content-Length here
    if (const std::string *cl = req.find("content-length")) {
        if (!parse_decimal(*cl, req.content_length)) return 400;
        if (req.content_length > kMaxRequestBody) return 413;
    }
    return 0;
}

// How a response ends once its body (or the part a fault allows) is sent.
enum class Ending { keep, close, reset, stall };

struct Plan {
    int status = 200;
    std::string headers;  // header lines after the status line, each CRLF-terminated
    bool blob_body = false;
    std::uint64_t seed = 0;
    std::int64_t offset = 0;    // blob offset of the first body byte
    std::string literal;        // the body when !blob_body
    std::int64_t announced = 0; // Content-Length; -1: none (chunked, or a body that lasts until the close)
    std::int64_t to_send = 0;   // body bytes actually sent
    bool endless = false;       // the body never ends (to_send does not apply)
    Ending ending = Ending::keep;
    std::string fault;
    std::int64_t rate = 0;
    bool chunked = false;       // Transfer-Encoding: chunked instead of Content-Length (blob bodies)
    std::int64_t corrupt = 0;   // the first `corrupt` body bytes are sent as 0xEE
    bool terminated = true;     // chunked: the last-chunk marker ends the body
};

}  // namespace

// Everything FaultServer shares with its threads. Members are public to the
// connection code in this file only; each group states what guards it.
// Lifetime: stop() (idempotent) wakes every thread through the wake pipe,
// joins them all, then closes the descriptors.
class FaultServerCore {
public:
    FaultServerCore(const std::string &bind_address, int port);
    ~FaultServerCore() { stop(); }
    FaultServerCore(const FaultServerCore &) = delete;
    FaultServerCore &operator=(const FaultServerCore &) = delete;

    void stop();

    // Set by the constructor, read-only afterwards.
    std::string m_host;  // dotted IPv4, as inet_ntop() prints it
    int m_port = 0;
    int m_listen_fd = -1;
    int m_wake_read = -1;   // becomes readable (for good) when stop() starts
    int m_wake_write = -1;
    std::atomic<bool> m_stopping{false};

    std::atomic<std::uint64_t> m_accepted{0};
    std::atomic<int> m_active{0};

    mutable std::mutex m_state_mutex;  // guards blobs, rules, send_etag, rate
    std::map<std::string, Blob> m_blobs;
    std::vector<FaultRule> m_rules;
    bool m_send_etag = true;
    bool m_send_etag_header = true;    // (when m_send_etag)
    bool m_send_last_modified = true;  // (when m_send_etag)
    bool m_chunked = false;
    std::int64_t m_rate = 0;

    mutable std::mutex m_bytes_mutex;  // guards path_bytes
    std::map<std::string, std::int64_t> m_path_bytes;

    mutable std::mutex m_records_mutex;  // guards records; records_cv signals each new one
    mutable std::condition_variable m_records_cv;
    std::vector<RequestRecord> m_records;

    // Builds the response for `req` from the current blobs and rules
    // (consuming one use of the applied rule).
    Plan plan(const Request &req);
    void add_path_bytes(const std::string &path, std::int64_t delta) {
        std::lock_guard lock(m_bytes_mutex);
        m_path_bytes[path] += delta;
    }
    void record(RequestRecord rec) {
        {
            std::lock_guard lock(m_records_mutex);
            m_records.push_back(std::move(rec));
        }
        m_records_cv.notify_all();
    }

private:
    struct Worker {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    void accept_loop();
    void reap_workers(bool all);

    std::thread m_accept_thread;
    std::list<Worker> m_workers;  // accept thread only; the destructor after joining it
    bool m_stopped = false;
};

namespace {

// One accepted socket, served on its own thread until the client leaves, a
// fault ends it or the server stops. Owns (and finally closes) the fd.
class Connection {
public:
    Connection(FaultServerCore &server, int fd, std::uint64_t serial)
        : m_server(server), m_fd(fd), m_serial(serial) {}
    ~Connection() {
        if (m_fd >= 0) ::close(m_fd);
    }
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    void run() {
        while (!m_server.m_stopping.load()) {
            Request req;
            int error = 0;
            if (!read_request(req, error)) return;
            if (error != 0) {
                answer_error(req, error);
                return;
            }
            if (!serve(req)) return;
        }
    }

private:
    enum class Wait { ready, stopped };

    // Blocks until `events` (or an error/hangup) on the socket, or stop.
    Wait wait_for(short events) {
        pollfd p[2] = {{m_fd, events, 0}, {m_server.m_wake_read, POLLIN, 0}};
        for (;;) {
            if (m_server.m_stopping.load()) return Wait::stopped;
            int r = ::poll(p, 2, -1);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 || p[1].revents != 0) return Wait::stopped;
            if (p[0].revents != 0) return Wait::ready;
        }
    }

    // Waits until `deadline` or stop; false on stop.
    bool pause_until(Clock::time_point deadline) {
        pollfd p{m_server.m_wake_read, POLLIN, 0};
        for (;;) {
            if (m_server.m_stopping.load()) return false;
            auto now = Clock::now();
            if (now >= deadline) return true;
            auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
            int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(ms, 1000)));
            if (r > 0) return false;
        }
    }

    // Appends received bytes to m_in; false on EOF, error or stop.
    bool read_more() {
        char buf[16 * 1024];
        for (;;) {
            if (wait_for(POLLIN) != Wait::ready) return false;
            ssize_t n = ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                m_in.append(buf, static_cast<std::size_t>(n));
                return true;
            }
            if (n == 0) return false;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
        }
    }

    // Reads the next request head and discards its body. Returns false when
    // the connection is over; otherwise `error` is 0 or the status to answer.
    bool read_request(Request &req, int &error) {
        for (;;) {
            std::size_t skip = 0;  // blank lines before a request line are allowed
            while (skip < m_in.size() && (m_in[skip] == '\r' || m_in[skip] == '\n')) ++skip;
            m_in.erase(0, skip);
            std::size_t a = m_in.find("\n\r\n"), b = m_in.find("\n\n");
            std::size_t end = std::string::npos;
            if (a != std::string::npos) end = a + 3;
            if (b != std::string::npos && b + 2 < end) end = b + 2;
            if (end != std::string::npos) {
                if (end > kMaxHeadBytes) {
                    error = 431;
                    return true;
                }
                error = parse_request_head(std::string_view(m_in).substr(0, end), req);
                m_in.erase(0, end);
                if (error != 0) return true;
                return discard_body(req.content_length);
            }
            if (m_in.size() > kMaxHeadBytes) {
                error = 431;
                return true;
            }
            if (!read_more()) return false;
        }
    }

    bool discard_body(std::int64_t length) {
        while (length > 0) {
            if (m_in.empty() && !read_more()) return false;
            std::size_t n = static_cast<std::size_t>(std::min<std::int64_t>(length, m_in.size()));
            m_in.erase(0, n);
            length -= static_cast<std::int64_t>(n);
        }
        return true;
    }

    // Sends all of [p, p+n). When `count_path` is set the bytes are added to
    // the path's total before each send() (and the unsent part taken back
    // after it), so the total never lags behind what the client received.
    bool send_all(const char *p, std::size_t n, std::int64_t *body_counter, const std::string *count_path) {
        while (n > 0) {
            if (wait_for(POLLOUT) != Wait::ready) return false;
            if (count_path) m_server.add_path_bytes(*count_path, static_cast<std::int64_t>(n));
            ssize_t k = ::send(m_fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            int err = errno;
            std::size_t sent = k > 0 ? static_cast<std::size_t>(k) : 0;
            if (count_path && sent < n) m_server.add_path_bytes(*count_path, -static_cast<std::int64_t>(n - sent));
            if (k < 0) {
                if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) continue;
                return false;
            }
            if (body_counter) *body_counter += static_cast<std::int64_t>(sent);
            p += sent;
            n -= sent;
        }
        return true;
    }

    // Sends the planned body; an endless one until the client leaves or the
    // server stops (then false, as for any send that could not finish).
    bool send_body(const Plan &plan, const std::string &path, RequestRecord &rec) {
        if (!plan.blob_body && !plan.endless) {
            std::size_t n = static_cast<std::size_t>(std::min<std::int64_t>(plan.to_send, plan.literal.size()));
            return send_all(plan.literal.data(), n, &rec.body_bytes_sent, nullptr);
        }
        std::size_t piece = kPieceBytes;
        if (plan.rate > 0) piece = static_cast<std::size_t>(std::clamp<std::int64_t>(plan.rate / 20, 1, kPieceBytes));
        if (m_piece.size() < piece) m_piece.resize(piece);
        const auto start = Clock::now();
        for (std::int64_t pos = 0; plan.endless || pos < plan.to_send;) {
            std::size_t n = plan.endless ? piece
                                         : static_cast<std::size_t>(std::min<std::int64_t>(piece, plan.to_send - pos));
            if (plan.rate > 0) {
                auto due = start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(pos) / plan.rate));
                if (!pause_until(due)) return false;
            }
            if (plan.blob_body) {
                blob_bytes(plan.seed, static_cast<std::uint64_t>(plan.offset + pos), m_piece.data(), n);
            } else {  // an endless error page: its text over and over
                for (std::size_t k = 0; k < n; ++k)
                    m_piece[k] = plan.literal[static_cast<std::size_t>(pos + static_cast<std::int64_t>(k)) %
                                              plan.literal.size()];
            }
            for (std::int64_t k = pos; k < plan.corrupt && k < pos + static_cast<std::int64_t>(n); ++k)
                m_piece[static_cast<std::size_t>(k - pos)] = static_cast<char>(0xEE);
            if (plan.chunked) {
                char size_line[32];
                const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
                if (!send_all(size_line, static_cast<std::size_t>(len), nullptr, nullptr)) return false;
            }
            if (!send_all(m_piece.data(), n, &rec.body_bytes_sent, plan.blob_body ? &path : nullptr)) return false;
            if (plan.chunked && !send_all("\r\n", 2, nullptr, nullptr)) return false;
            pos += static_cast<std::int64_t>(n);
        }
        if (plan.chunked && plan.terminated && !send_all("0\r\n\r\n", 5, nullptr, nullptr)) return false;
        return true;
    }

    // Waits (bounded, stop-aware) until everything sent has been acknowledged,
    // so a following close or reset cannot discard it.
    void wait_drained() {
#if defined(SIOCOUTQ)
        const auto deadline = Clock::now() + kDrainLimit;
        pollfd p{m_server.m_wake_read, POLLIN, 0};
        for (;;) {
            int pending = 0;
            if (::ioctl(m_fd, SIOCOUTQ, &pending) != 0 || pending <= 0) return;
            if (m_server.m_stopping.load() || Clock::now() >= deadline) return;
            if (::poll(&p, 1, 1) > 0) return;
        }
#endif
    }

    // FIN after everything sent. Closing with unread input would turn into an
    // RST that can discard the response, so then the close waits for the ack.
    void close_gracefully() {
        ::shutdown(m_fd, SHUT_WR);
        int unread = 0;
        if (!m_in.empty() || (::ioctl(m_fd, FIONREAD, &unread) == 0 && unread > 0)) wait_drained();
        ::close(m_fd);
        m_fd = -1;
    }

    void close_with_reset() {
        wait_drained();
        linger lg{1, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        ::close(m_fd);
        m_fd = -1;
    }

    // Sends nothing until the client closes (or errors) or the server stops.
    void stall() {
        char buf[4096];
        for (;;) {
            if (wait_for(POLLIN) != Wait::ready) return;
            ssize_t n = ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0) return;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;
        }
    }

    RequestRecord make_record(const Request &req) const {
        RequestRecord rec;
        rec.method = req.method;
        rec.path = req.path;
        if (const std::string *v = req.find("range")) rec.range = *v;
        if (const std::string *v = req.find("if-range")) rec.if_range = *v;
        rec.headers = req.header_block;
        rec.connection = m_serial;
        return rec;
    }

    // Answers a request that could not be parsed, then closes.
    void answer_error(const Request &req, int status) {
        std::string body = html_page(status);
        std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                           "\r\nContent-Type: text/html\r\nAccept-Ranges: bytes\r\nContent-Length: " +
                           std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n";
        RequestRecord rec = make_record(req);
        rec.status = status;
        if (send_all(head.data(), head.size(), nullptr, nullptr))
            send_all(body.data(), body.size(), &rec.body_bytes_sent, nullptr);
        close_gracefully();
        m_server.record(std::move(rec));
    }

    // Serves one request; false when the connection is over.
    bool serve(const Request &req) {
        Plan plan = m_server.plan(req);
        const bool keep = plan.ending == Ending::keep && req.keep_alive;
        std::string head = "HTTP/1.1 " + std::to_string(plan.status) + " " + reason_phrase(plan.status) + "\r\n" +
                           plan.headers;
        if (plan.chunked) head += "Transfer-Encoding: chunked\r\n";
        else if (plan.announced >= 0) head += "Content-Length: " + std::to_string(plan.announced) + "\r\n";
        else head += "Connection: close\r\n";  // the body lasts until the connection ends
        if (plan.ending == Ending::keep && !keep) head += "Connection: close\r\n";
        head += "\r\n";

        RequestRecord rec = make_record(req);
        rec.status = plan.status;
        rec.fault = plan.fault;
        bool ok = send_all(head.data(), head.size(), nullptr, nullptr) && send_body(plan, req.path, rec);
        if (!ok) {  // client gone or server stopping
            ::close(m_fd);
            m_fd = -1;
            m_server.record(std::move(rec));
            return false;
        }
        switch (plan.ending) {
        case Ending::keep:
            if (!keep) close_gracefully();
            break;
        case Ending::close: close_gracefully(); break;
        case Ending::reset: close_with_reset(); break;
        case Ending::stall:
            stall();
            ::close(m_fd);
            m_fd = -1;
            break;
        }
        m_server.record(std::move(rec));
        return keep;
    }

    FaultServerCore &m_server;
    int m_fd;
    const std::uint64_t m_serial;
    std::string m_in;            // received, not yet consumed bytes
    std::vector<char> m_piece;   // body generation buffer
};

}  // namespace

FaultServerCore::FaultServerCore(const std::string &bind_address, int port) {
    const std::string where = bind_address + ":" + (port == 0 ? std::string("<ephemeral>") : std::to_string(port));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (::inet_pton(AF_INET, bind_address.c_str(), &addr.sin_addr) != 1)
        throw std::runtime_error("FaultServer: bind address '" + bind_address + "' is not a dotted IPv4 address");
    if (port < 0 || port > 65535)
        throw std::runtime_error("FaultServer: port " + std::to_string(port) + " for " + bind_address +
                                 " is outside 0..65535");
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
    m_host = text;

    int wake[2];
    if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
        throw std::runtime_error(std::string("FaultServer: pipe2 failed: ") + std::strerror(errno));
    m_wake_read = wake[0];
    m_wake_write = wake[1];
    auto fail = [this, &where](const char *what) {
        std::string msg = std::string("FaultServer: ") + what + " on " + where + " failed: " + std::strerror(errno);
        if (m_listen_fd >= 0) ::close(m_listen_fd);
        ::close(m_wake_read);
        ::close(m_wake_write);
        throw std::runtime_error(msg);
    };
    m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (m_listen_fd < 0) fail("socket");
    int one = 1;
    if (port != 0 && ::setsockopt(m_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        fail("setsockopt(SO_REUSEADDR)");
    if (::bind(m_listen_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) fail("bind");
    if (::listen(m_listen_fd, 512) != 0) fail("listen");
    socklen_t len = sizeof addr;
    if (::getsockname(m_listen_fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) fail("getsockname");
    m_port = ntohs(addr.sin_port);
    try {
        m_accept_thread = std::thread([this] { accept_loop(); });
    } catch (const std::system_error &) {
        fail("starting the accept thread");
    }
}

void FaultServerCore::stop() {
    if (m_stopped) return;
    m_stopped = true;
    m_stopping.store(true);
    char c = 'x';
    while (::write(m_wake_write, &c, 1) < 0 && errno == EINTR) {
    }
    if (m_accept_thread.joinable()) m_accept_thread.join();
    ::close(m_listen_fd);
    reap_workers(true);
    ::close(m_wake_read);
    ::close(m_wake_write);
}

void FaultServerCore::reap_workers(bool all) {
    for (auto it = m_workers.begin(); it != m_workers.end();) {
        if (all || it->done->load()) {
            it->thread.join();
            it = m_workers.erase(it);
        } else {
            ++it;
        }
    }
}

void FaultServerCore::accept_loop() {
    pollfd p[2] = {{m_listen_fd, POLLIN, 0}, {m_wake_read, POLLIN, 0}};
    while (!m_stopping.load()) {
        int r = ::poll(p, 2, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents != 0) return;
        if ((p[0].revents & POLLIN) == 0) continue;
        int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) continue;
            pollfd w{m_wake_read, POLLIN, 0};  // out of descriptors or memory: back off briefly
            ::poll(&w, 1, 10);
            continue;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const std::uint64_t serial = ++m_accepted;
        ++m_active;
        reap_workers(false);
        auto done = std::make_shared<std::atomic<bool>>(false);
        try {
            m_workers.push_back(Worker{std::thread([this, fd, serial, done] {
                                           try {
                                               Connection(*this, fd, serial).run();
                                           } catch (...) {
                                               // the connection is closed by ~Connection; nothing to report
                                           }
                                           --m_active;
                                           done->store(true);
                                       }),
                                       done});
        } catch (const std::system_error &) {
            ::close(fd);
            --m_active;
        }
    }
}

Plan FaultServerCore::plan(const Request &req) {
    Plan plan;
    const bool is_get = req.method == "GET", is_head = req.method == "HEAD";
    const std::string *range_value = req.find("range");
    const std::string *if_range = req.find("if-range");

    std::lock_guard lock(m_state_mutex);
    plan.rate = m_rate;
    auto it = m_blobs.find(req.path);
    const Blob *blob = it == m_blobs.end() ? nullptr : &it->second;

    RangeSpec range;
    if (range_value) range = parse_range(*range_value, blob ? blob->size : 0);
    const std::int64_t range_begin = range_value ? range.first : -1;

    Fault fault;
    for (FaultRule &rule : m_rules) {
        if (rule.times == 0) continue;
        if (!rule.path.empty() && rule.path != req.path) continue;
        if (rule.range_begin >= 0 && rule.range_begin != range_begin) continue;
        if (rule.range_begin == -2 && range_value) continue;  // only requests without Range
        if (rule.times > 0) --rule.times;
        fault = rule.fault;
        break;
    }
    plan.fault = fault_kind_name(fault.kind);
    const std::int64_t after = std::max<std::int64_t>(0, fault.after_bytes);

    auto html = [&](int status) {
        plan.status = status;
        plan.literal = html_page(status);
        plan.announced = static_cast<std::int64_t>(plan.literal.size());
        plan.headers += "Content-Type: text/html\r\nAccept-Ranges: bytes\r\n";
    };

    if (fault.kind == FaultKind::status || fault.kind == FaultKind::endless_status) {
        html(fault.status);
        if (!fault.retry_after.empty()) plan.headers += "Retry-After: " + fault.retry_after + "\r\n";
        if (fault.kind == FaultKind::endless_status && !fault.location.empty())
            plan.headers += "Location: " + fault.location + "\r\n";
        if (fault.status == 416 && blob)
            plan.headers += "Content-Range: bytes */" + std::to_string(blob->size) + "\r\n";
    } else if (fault.kind == FaultKind::redirect) {
        html(fault.status == 0 ? 302 : fault.status);
        if (!fault.location.empty()) plan.headers += "Location: " + fault.location + "\r\n";
    } else if (!is_get && !is_head) {
        html(405);
        plan.headers += "Allow: GET, HEAD\r\n";
    } else if (!blob) {
        html(404);
    } else {
        if (range.kind != RangeKind::none && if_range &&
            !(m_send_etag && ((*if_range == blob->etag && m_send_etag_header) ||
                              (*if_range == blob->last_modified && m_send_last_modified))))
            range.kind = RangeKind::none;
        if (fault.kind == FaultKind::ignore_range || fault.kind == FaultKind::endless_body) range.kind = RangeKind::none;
        if (fault.kind == FaultKind::wrong_range && blob->size > 0) {
            std::int64_t first = range.kind == RangeKind::satisfiable ? range.first : 0;
            std::int64_t last = range.kind == RangeKind::satisfiable ? range.last : blob->size - 1;
            range.last = std::min(last + after, blob->size - 1);
            range.first = std::min(first + after, range.last);
            range.kind = RangeKind::satisfiable;
        }
        std::string validators;
        if (m_send_etag && m_send_etag_header) validators += "ETag: " + blob->etag + "\r\n";
        if (m_send_etag && m_send_last_modified) validators += "Last-Modified: " + blob->last_modified + "\r\n";
        if (range.kind == RangeKind::unsatisfiable) {
            html(416);
            plan.headers += "Content-Range: bytes */" + std::to_string(blob->size) + "\r\n" + validators;
        } else {
            plan.blob_body = true;
            plan.seed = blob->seed;
            plan.headers += "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n" + validators;
            if (range.kind == RangeKind::satisfiable) {
                plan.status = 206;
                plan.offset = range.first;
                plan.announced = range.last - range.first + 1;
                plan.headers += "Content-Range: bytes " + std::to_string(range.first) + "-" +
                                std::to_string(range.last) + "/" + std::to_string(blob->size) + "\r\n";
            } else {
                plan.status = 200;
                plan.announced = blob->size;
            }
        }
    }

    if (fault.change_size >= 0)
        m_blobs[req.path] = make_blob(fault.change_seed, static_cast<std::uint64_t>(fault.change_size), "");
    plan.to_send = plan.announced;
    plan.chunked = m_chunked && plan.blob_body;
    plan.corrupt = fault.corrupt_prefix;
    switch (fault.kind) {
    case FaultKind::ignore_range:
        if (after > 0) {  // the whole body, cut after `after_bytes`
            plan.to_send = std::min(after, plan.announced);
            plan.ending = Ending::close;
            plan.terminated = false;
        }
        break;
    case FaultKind::reset_after:
        plan.to_send = std::min(after, plan.announced);
        plan.ending = Ending::reset;
        plan.terminated = false;
        break;
    case FaultKind::short_body:
        plan.to_send = std::min(after, plan.announced);
        plan.ending = Ending::close;
        plan.terminated = false;
        break;
    case FaultKind::stall:
        plan.to_send = std::min(after, plan.announced);
        plan.ending = Ending::stall;
        plan.terminated = false;
        break;
    case FaultKind::extra_bytes:
        if (plan.blob_body) plan.to_send = plan.announced + after;
        plan.ending = Ending::close;
        break;
    case FaultKind::endless_body:
        if (!plan.blob_body) break;  // (an unknown path: its 404 as usual)
        [[fallthrough]];
    case FaultKind::endless_status:
        plan.endless = true;
        plan.announced = -1;
        plan.ending = Ending::close;
        plan.terminated = false;
        if (fault.bytes_per_second > 0) plan.rate = fault.bytes_per_second;
        break;
    default: break;
    }
    if (is_head) {
        plan.to_send = 0;
        plan.endless = false;
    }
    return plan;
}

}  // namespace detail

FaultServer::FaultServer() : FaultServer("127.0.0.1", 0) {}

FaultServer::FaultServer(std::string bind_address) : FaultServer(std::move(bind_address), 0) {}

FaultServer::FaultServer(std::string bind_address, int port)
    : m_core(std::make_unique<detail::FaultServerCore>(bind_address, port)) {}

FaultServer::~FaultServer() { m_core->stop(); }

int FaultServer::port() const { return m_core->m_port; }

std::string FaultServer::host() const { return m_core->m_host; }

std::string FaultServer::base_url() const { return "http://" + m_core->m_host + ":" + std::to_string(m_core->m_port); }

void FaultServer::add_blob(const std::string &path, std::uint64_t seed, std::uint64_t size, const std::string &etag) {
    detail::Blob blob = detail::make_blob(seed, size, etag);
    std::lock_guard lock(m_core->m_state_mutex);
    m_core->m_blobs[path] = std::move(blob);
}

void FaultServer::change_blob(const std::string &path, std::uint64_t seed, std::uint64_t size,
                              const std::string &etag) {
    add_blob(path, seed, size, etag);
}

std::string FaultServer::etag(const std::string &path) const {
    std::lock_guard lock(m_core->m_state_mutex);
    auto it = m_core->m_blobs.find(path);
    return it == m_core->m_blobs.end() ? "" : it->second.etag;
}

std::string FaultServer::last_modified(const std::string &path) const {
    std::lock_guard lock(m_core->m_state_mutex);
    auto it = m_core->m_blobs.find(path);
    return it == m_core->m_blobs.end() ? "" : it->second.last_modified;
}

void FaultServer::set_send_etag(bool on) {
    std::lock_guard lock(m_core->m_state_mutex);
    m_core->m_send_etag = on;
}

void FaultServer::set_validators(bool etag, bool last_modified) {
    std::lock_guard lock(m_core->m_state_mutex);
    m_core->m_send_etag = true;
    m_core->m_send_etag_header = etag;
    m_core->m_send_last_modified = last_modified;
}

void FaultServer::set_chunked_encoding(bool on) {
    std::lock_guard lock(m_core->m_state_mutex);
    m_core->m_chunked = on;
}

void FaultServer::set_rate_limit(std::int64_t bytes_per_second_per_connection) {
    std::lock_guard lock(m_core->m_state_mutex);
    m_core->m_rate = std::max<std::int64_t>(0, bytes_per_second_per_connection);
}

void FaultServer::add_rule(FaultRule rule) {
    if (rule.fault.kind == FaultKind::redirect) {
        const int s = rule.fault.status;
        if (s != 0 && s != 301 && s != 302 && s != 303 && s != 307 && s != 308)
            throw std::invalid_argument("FaultServer: redirect status " + std::to_string(s) +
                                        " is not 301, 302, 303, 307 or 308 (0 means 302)");
        if (rule.fault.location.find_first_of("\r\n") != std::string::npos)
            throw std::invalid_argument("FaultServer: redirect location contains CR or LF");
    }
    std::lock_guard lock(m_core->m_state_mutex);
    m_core->m_rules.push_back(std::move(rule));
}

void FaultServer::add_redirect(const std::string &path, const std::string &location, int status, int times) {
    if (path.empty()) throw std::invalid_argument("FaultServer: add_redirect needs a path (\"\" would match every path)");
    FaultRule rule;
    rule.path = path;
    rule.times = times;
    rule.fault.kind = FaultKind::redirect;
    rule.fault.status = status;
    rule.fault.location = location;
    add_rule(std::move(rule));
}

void FaultServer::clear_rules() {
    std::lock_guard lock(m_core->m_state_mutex);
    m_core->m_rules.clear();
}

std::vector<RequestRecord> FaultServer::requests() const {
    std::lock_guard lock(m_core->m_records_mutex);
    return m_core->m_records;
}

std::vector<RequestRecord> FaultServer::wait_for_requests(std::size_t n) const {
    std::unique_lock lock(m_core->m_records_mutex);
    m_core->m_records_cv.wait_for(lock, std::chrono::seconds(10), [&] { return m_core->m_records.size() >= n; });
    return m_core->m_records;
}

std::int64_t FaultServer::body_bytes_sent(const std::string &path) const {
    std::lock_guard lock(m_core->m_bytes_mutex);
    auto it = m_core->m_path_bytes.find(path);
    return it == m_core->m_path_bytes.end() ? 0 : it->second;
}

std::string header(const RequestRecord &record, std::string_view name) {
    const std::string wanted = detail::lower(name);
    std::string_view rest = record.headers;
    while (!rest.empty()) {
        std::size_t end = rest.find("\r\n");
        std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
        std::size_t colon = line.find(':');
        if (colon != std::string_view::npos && detail::lower(line.substr(0, colon)) == wanted)
            return std::string(detail::trim(line.substr(colon + 1)));
    }
    return "";
}

std::uint64_t FaultServer::connections_accepted() const { return m_core->m_accepted.load(); }

int FaultServer::active_connections() const { return m_core->m_active.load(); }

}  // namespace blobfetch::test
