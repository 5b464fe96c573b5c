// TransferLoop: libcurl's multi interface driving up to `capacity` reusable
// easy handles from one thread. Waiting happens in curl_multi_poll, which
// wakeup() interrupts at once (curl_multi_wakeup); stalls are detected here,
// per transfer, with millisecond resolution.

#include <algorithm>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include "base/path_safety.h"
#include "base/url.h"
#include "net/curl_handles.h"
#include "net/http_headers.h"
#include "net/transport.h"

#ifndef BLOBFETCH_VERSION
#define BLOBFETCH_VERSION "0.1.0"
#endif

namespace blobfetch {
namespace {

using detail::CurlEasy;
using detail::CurlMulti;
using detail::CurlSlist;
using detail::CurlUrl;
using Clock = std::chrono::steady_clock;

bool is_retryable_http(long code) { return code == 408 || code == 425 || code == 429 || code >= 500; }

bool is_redirect(long code) { return code == 301 || code == 302 || code == 303 || code == 307 || code == 308; }

// The URL `u` holds, as text; "" when it holds none.
std::string url_text(const CurlUrl &u) {
    char *text = nullptr;
    std::string out;
    if (curl_url_get(u.get(), CURLUPART_URL, &text, 0) == CURLUE_OK && text) out = text;
    curl_free(text);
    return out;
}

// `url` without its user:password part (a URL that curl resolved).
std::string without_credentials(const std::string &url) {
    CurlUrl u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return url;
    curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
    std::string out = url_text(u);
    return out.empty() ? url : out;
}

// `location` (a Location header's value) resolved against `base`; "" when
// it cannot be. (libcurl's CURLINFO_REDIRECT_URL is only there for a
// response whose body ended, not for one cut at its bound.)
std::string resolve_location(const std::string &base, const std::string &location) {
    CurlUrl u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
        curl_url_set(u.get(), CURLUPART_URL, location.c_str(), CURLU_URLENCODE) != CURLUE_OK)
        return "";
    return url_text(u);
}

bool is_retryable_curl(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_WEIRD_SERVER_REPLY:
            return true;
        default:
            return false;
    }
}

// One reusable easy handle and the state of the transfer it runs.
struct Slot {
    const TransportOptions *options = nullptr;  // the loop's, set once
    CurlEasy easy;
    CurlSlist headers;
    bool in_use = false;
    bool aborted = false;
    bool paused = false;  // its handler was not accepting body bytes
    TransferId id = 0;
    ITransferHandler *handler = nullptr;
    HttpRequest request;
    std::string url;      // the URL asked now: request.url, or where redirects led
    int redirects = 0;    // redirects followed so far
    std::string shown_url;
    ResponseHead head;
    bool head_delivered = false;
    bool success_status = false;   // the final response is one whose body we want
    Status handler_status;         // why the handler aborted, if it did
    std::int64_t body_bytes = 0;
    Clock::time_point window_start;
    std::int64_t window_bytes = 0;  // bytes received since window_start (stall detection)
    // The body of a final response that is no 2xx, read only up to the
    // options' error-body bounds (its head ended at error_since).
    std::string location;           // its Location header's value, as sent
    bool error_body = false;
    Clock::time_point error_since;
    std::int64_t error_bytes = 0;
    bool error_cut = false;         // stopped at a bound: the status stands as if the body had ended

    // A new response (of a redirect chain, or after a 1xx) starts over.
    void reset_response() {
        head = ResponseHead{};
        location.clear();
        error_body = false;
        error_bytes = 0;
        error_cut = false;
    }

    // Headers arrive for every response of a redirect chain; keep the last.
    void on_header_line(std::string_view line) {
        if (line.rfind("HTTP/", 0) == 0) {
            reset_response();
            return;
        }
        if (line == "\r\n" || line == "\n") {  // the head ended (after a 1xx, another follows)
            long code = 0;  // (libcurl has parsed this response's status line by now)
            curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &code);
            if (code >= 300) {  // a final answer that is no 2xx
                error_body = true;
                error_since = Clock::now();
            }
            return;
        }
        std::string name, value;
        if (!split_header_line(line, name, value)) return;
        // (A Location is read back resolved with CURLINFO_REDIRECT_URL, when libcurl has it.)
        if (name == "location") location = value;
        else if (name == "content-range") head.content_range = value;
        else if (name == "etag") head.etag = value;
        else if (name == "last-modified") head.last_modified = value;
        else if (name == "retry-after") head.retry_after = parse_retry_after(value, std::time(nullptr));
    }

    // Decides, once per response, whether its body is wanted; tells the handler.
    bool deliver_head() {
        if (head_delivered) return handler_status.ok();
        head_delivered = true;
        head.url = url;
        long code = 0;
        curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &code);
        head.status = code;
        curl_off_t cl = -1;
        curl_easy_getinfo(easy.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        head.content_length = cl;
        success_status = code == 0 || (code >= 200 && code < 300);
        if (!success_status) return true;  // error body: swallowed, never delivered
        handler_status = handler->on_head(head);
        return handler_status.ok();
    }
};

size_t header_cb(char *data, size_t size, size_t n, void *user) {
    auto *slot = static_cast<Slot *>(user);
    if (slot->aborted) return 0;
    slot->window_bytes += static_cast<std::int64_t>(size * n);
    slot->on_header_line(std::string_view(data, size * n));
    return size * n;
}

size_t write_cb(char *data, size_t size, size_t n, void *user) {
    auto *slot = static_cast<Slot *>(user);
    const size_t len = size * n;
    if (slot->aborted) return CURL_WRITEFUNC_ERROR;
    slot->window_bytes += static_cast<std::int64_t>(len);
    if (!slot->deliver_head()) return CURL_WRITEFUNC_ERROR;
    if (!slot->success_status) {  // an error (or redirect) page: discarded, and read only up to its bound
        slot->error_bytes += static_cast<std::int64_t>(len);
        if (slot->error_bytes > slot->options->error_body_limit) {
            slot->error_cut = true;  // collect() acts on the status
            return CURL_WRITEFUNC_ERROR;
        }
        return len;
    }
    if (!slot->handler->accepting(len)) {
        slot->paused = true;  // libcurl keeps the piece and hands it over again after the pause
        slot->window_bytes -= static_cast<std::int64_t>(len);
        return CURL_WRITEFUNC_PAUSE;
    }
    slot->handler_status = slot->handler->on_body(data, len);
    if (!slot->handler_status.ok()) return CURL_WRITEFUNC_ERROR;
    slot->body_bytes += static_cast<std::int64_t>(len);
    return len;
}

}  // namespace

struct TransferLoop::Impl {
    TransportOptions options;
    std::string user_agent;
    CurlMulti multi;
    std::vector<std::unique_ptr<Slot>> slots;
    std::unordered_map<TransferId, Slot *> by_id;
    std::vector<Slot *> deferred_aborts;
    std::vector<std::pair<TransferId, TransferOutcome>> failed_starts;
    TransferId next_id = 1;
    bool in_perform = false;
    long receive_buffer = 64 * 1024;

    Impl(TransportOptions o, std::size_t capacity) : options(std::move(o)) {
        detail::ensure_curl_global_init();
        multi.reset(curl_multi_init());
        user_agent = options.user_agent.empty() ? std::string("blobfetch/") + BLOBFETCH_VERSION : options.user_agent;
        if (multi) {
            // Parallel connections, never multiplexed: a per-connection rate
            // cap at the server is then a per-transfer cap, not a global one.
            curl_multi_setopt(multi.get(), CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
            curl_multi_setopt(multi.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(capacity));
            curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(capacity));
        }
        receive_buffer = std::clamp<long>(static_cast<long>((1u << 20) / capacity), 16 * 1024, 64 * 1024);
        slots.reserve(capacity);
        for (std::size_t i = 0; i < capacity; ++i) {
            slots.push_back(std::make_unique<Slot>());
            slots.back()->options = &options;
        }
    }

    ~Impl() {
        for (auto &s : slots)
            if (s->in_use) release(*s);
    }

    // Sets the slot's easy handle up for slot.request at slot.url.
    Status configure(Slot &slot) {
        const HttpRequest &request = slot.request;
        CURL *e = slot.easy.get();
        curl_easy_reset(e);  // keeps live connections (they belong to the multi handle)
        slot.headers.reset();
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slot);
        curl_easy_setopt(e, CURLOPT_URL, slot.url.c_str());
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");  // file:// is local_copy.h's
        // Redirects are followed here (see follow()), so that headers stay with their origin.
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
        if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
        curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent.c_str());
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &slot);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &slot);
        // Larger reads than the 16 KiB default (fewer recv and poll calls),
        // still below glibc's mmap threshold so the per-transfer buffer
        // libcurl allocates is never an mmap/munmap pair; smaller with many
        // transfers, so memory stays bounded.
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, receive_buffer);
        if (request.range_begin >= 0) {
            std::string range = std::to_string(request.range_begin) + "-";
            if (request.range_end > request.range_begin) range += std::to_string(request.range_end - 1);
            curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());  // copied by libcurl
        }
        std::size_t start = 0;
        // The secret headers go to their own origin only.
        const std::string &h = same_origin(slot.url, request.headers_for.empty() ? request.url : request.headers_for)
                                   ? request.headers
                                   : std::string();
        while (start < h.size()) {
            std::size_t end = h.find('\n', start);
            if (end == std::string::npos) end = h.size();
            std::string line = h.substr(start, end - start);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!line.empty() && !detail::slist_append(slot.headers, line.c_str()))
                return Status(Errc::internal, "out of memory building request headers");
            start = end + 1;
        }
        if (!request.if_range.empty()) {
            std::string line = "If-Range: " + request.if_range;
            if (!detail::slist_append(slot.headers, line.c_str()))
                return Status(Errc::internal, "out of memory building request headers");
        }
        if (slot.headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, slot.headers.get());
        return Status::success();
    }

    // Detaches the easy handle and frees the slot for the next transfer.
    void release(Slot &slot) {
        curl_multi_remove_handle(multi.get(), slot.easy.get());
        by_id.erase(slot.id);
        slot.in_use = false;
        slot.aborted = false;
        slot.paused = false;
        slot.handler = nullptr;
        slot.headers.reset();
    }

    void flush_aborts() {
        for (Slot *s : deferred_aborts)
            if (s->in_use && s->aborted) release(*s);
        deferred_aborts.clear();
    }

    void perform() {
        int running = 0;
        in_perform = true;
        curl_multi_perform(multi.get(), &running);
        in_perform = false;
    }

    // Lets libcurl move every transfer along, then gathers the finished ones.
    void step(std::vector<std::pair<TransferId, TransferOutcome>> &out) {
        perform();
        flush_aborts();
        collect(out);
    }

    void collect(std::vector<std::pair<TransferId, TransferOutcome>> &out) {
        int queued = 0;
        while (CURLMsg *msg = curl_multi_info_read(multi.get(), &queued)) {
            if (msg->msg != CURLMSG_DONE) continue;
            Slot *slot = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char **>(&slot));
            if (!slot || !slot->in_use) continue;
            CURLcode rc = msg->data.result;
            if (slot->error_cut && rc == CURLE_WRITE_ERROR) rc = CURLE_OK;  // an error page cut at its bound
            if (!slot->aborted) {
                TransferOutcome o;
                if (rc == CURLE_OK && follow(*slot)) continue;  // on its way to the next hop
                classify(rc, *slot, o);
                out.emplace_back(slot->id, std::move(o));
            }
            release(*slot);  // invalidates msg; the loop reads the next one
        }
    }

    // A finished response that may be a redirect: sends the slot's request on
    // to its Location (true); false when it is no redirect, or when it may not
    // be followed (then handler_status says why, and classify() reports it).
    bool follow(Slot &slot) {
        long code = 0;
        curl_easy_getinfo(slot.easy.get(), CURLINFO_RESPONSE_CODE, &code);
        char *location = nullptr;
        curl_easy_getinfo(slot.easy.get(), CURLINFO_REDIRECT_URL, &location);
        std::string target = location ? location : "";
        if (target.empty() && slot.error_cut && !slot.location.empty()) target = resolve_location(slot.url, slot.location);
        if (!is_redirect(code) || target.empty() || !slot.handler_status.ok()) return false;
        const std::string shown_target = redact_url(target);
        auto refuse = [&](Errc code_, const std::string &why) {
            // Reported by classify() through the handler status.
            slot.handler_status = Status(code_, why);
            return false;
        };
        if (slot.redirects >= options.max_redirects)
            return refuse(Errc::http, "too many redirects (more than " + std::to_string(options.max_redirects) +
                                          ") from " + slot.shown_url);
        const auto from = url_origin(slot.url);
        const auto to = url_origin(target);
        if (!to || to->scheme == "file")
            return refuse(Errc::invalid_argument, slot.shown_url + " redirects to '" + shown_target +
                                                      "': only http and https are followed");
        if (from && from->scheme == "https" && to->scheme != "https")
            return refuse(Errc::invalid_argument, slot.shown_url + " redirects to '" + shown_target +
                                                      "', which is not https: blobfetch never redirects to http from https");
        const std::string &bound = slot.request.headers_for.empty() ? slot.request.url : slot.request.headers_for;
        if (!same_origin(target, bound)) target = without_credentials(target);
        curl_multi_remove_handle(multi.get(), slot.easy.get());
        ++slot.redirects;
        slot.url = std::move(target);
        slot.reset_response();
        slot.head_delivered = false;
        slot.success_status = false;
        slot.window_start = Clock::now();
        slot.window_bytes = 0;
        Status s = configure(slot);
        if (s.ok() && curl_multi_add_handle(multi.get(), slot.easy.get()) != CURLM_OK)
            s = Status(Errc::internal, "cannot follow the redirect of " + slot.shown_url);
        if (!s.ok()) {
            slot.handler_status = s;  // classify() reports it
            return false;
        }
        return true;
    }

    // Error pages read for longer than error_body_timeout are cut here: the
    // status stands (a redirect is followed, anything else is reported).
    void check_error_bodies(std::vector<std::pair<TransferId, TransferOutcome>> &out) {
        const auto now = Clock::now();
        for (auto &sp : slots) {
            Slot &s = *sp;
            if (!s.in_use || s.aborted || !s.error_body || now - s.error_since < options.error_body_timeout) continue;
            s.error_cut = true;
            if (follow(s)) continue;  // on its way to the next hop
            TransferOutcome o;
            classify(CURLE_OK, s, o);
            out.emplace_back(s.id, std::move(o));
            release(s);
        }
    }

    void check_stalls(std::vector<std::pair<TransferId, TransferOutcome>> &out) {
        if (options.stall_min_speed <= 0) return;
        const auto now = Clock::now();
        for (auto &sp : slots) {
            Slot &s = *sp;
            if (!s.in_use || s.aborted || s.error_body) continue;  // (an error page has its own time bound)
            if (s.paused) {  // waiting for us, not for the server
                s.window_start = now;
                s.window_bytes = 0;
                continue;
            }
            const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.window_start);
            if (elapsed < options.stall_timeout) continue;
            // Below stall_min_speed over the whole window: stalled.
            if (s.window_bytes * 1000 < options.stall_min_speed * elapsed.count()) {
                TransferOutcome o;
                o.retryable = true;
                o.head = s.head;
                o.body_bytes = s.body_bytes;
                o.status = Status(Errc::network, "the transfer stalled (under " + std::to_string(options.stall_min_speed) +
                                                     " bytes/s for " + std::to_string(options.stall_timeout.count()) +
                                                     " ms) while downloading " + s.shown_url);
                out.emplace_back(s.id, std::move(o));
                release(s);
            } else {
                s.window_start = now;
                s.window_bytes = 0;
            }
        }
    }

    void classify(CURLcode rc, Slot &st, TransferOutcome &out) {
        const std::string &shown = st.shown_url;
        long code = 0;
        curl_easy_getinfo(st.easy.get(), CURLINFO_RESPONSE_CODE, &code);
        out.head = st.head;
        out.head.url = st.url;
        out.head.status = code;
        out.body_bytes = st.body_bytes;
        if (!st.handler_status.ok()) {  // the handler refused the response or a write failed
            out.status = st.handler_status;
            return;
        }
        if (rc == CURLE_OK && code != 0 && (code < 200 || code >= 300)) {
            std::string why = "HTTP " + std::to_string(code) + " from " + shown;
            if (code == 404 || code == 410) {
                out.status = Status(Errc::not_found, why + ": the source does not have this blob");
            } else if (code == 401 || code == 403) {
                out.status = Status(Errc::http, why + ": access denied; check the source's credentials");
            } else {
                out.retryable = is_retryable_http(code);
                out.status = Status(Errc::http, why);
            }
            return;
        }
        if (rc == CURLE_OK) {
            // A response with an empty body never reached the write callback.
            if (!st.deliver_head()) {
                out.status = st.handler_status;
                return;
            }
            out.status = Status::success();
            return;
        }
        std::string why = std::string(curl_easy_strerror(rc)) + " while downloading " + shown;
        switch (rc) {
            case CURLE_FILE_COULDNT_READ_FILE:
                out.status = Status(Errc::not_found, why + ": the source does not have this blob");
                return;
            case CURLE_OPERATION_TIMEDOUT:
                out.status = Status(Errc::network, why + " (timed out; will retry)");
                break;
            case CURLE_PEER_FAILED_VERIFICATION:
            case CURLE_SSL_CACERT_BADFILE:
                out.status = Status(Errc::network, why + ": the server's TLS certificate is not trusted; set \"ca_file\" in the options to the CA bundle that signed it");
                return;
            case CURLE_TOO_MANY_REDIRECTS:
                out.status = Status(Errc::http, why + ": too many redirects");
                return;
            case CURLE_UNSUPPORTED_PROTOCOL:
                out.status = Status(Errc::invalid_argument, why + ": only http, https and file URLs are supported, and https never redirects to http");
                return;
            default:
                out.status = Status(Errc::network, why);
                break;
        }
        out.retryable = is_retryable_curl(rc);
    }
};

TransferLoop::TransferLoop(TransportOptions options, std::size_t capacity)
    : m_impl(std::make_unique<Impl>(std::move(options), std::max<std::size_t>(1, capacity))) {}

TransferLoop::~TransferLoop() = default;

std::size_t TransferLoop::capacity() const { return m_impl->slots.size(); }

std::size_t TransferLoop::active() const { return m_impl->by_id.size() + m_impl->failed_starts.size(); }

TransferId TransferLoop::start(const HttpRequest &request, ITransferHandler &handler) {
    Impl &d = *m_impl;
    Slot *slot = nullptr;
    for (auto &s : d.slots)
        if (!s->in_use) {
            slot = s.get();
            break;
        }
    if (!slot) return 0;  // precondition violated; nothing started
    if (!slot->easy) slot->easy.reset(curl_easy_init());
    const TransferId id = d.next_id++;
    slot->in_use = true;
    slot->aborted = false;
    slot->id = id;
    slot->handler = &handler;
    slot->request = request;
    slot->url = request.url;
    slot->redirects = 0;
    slot->shown_url = redact_url(request.url);
    slot->reset_response();
    slot->head_delivered = false;
    slot->success_status = false;
    slot->handler_status = Status::success();
    slot->body_bytes = 0;
    slot->window_start = Clock::now();
    slot->window_bytes = 0;
    Status s = !d.multi || !slot->easy ? Status(Errc::internal, "cannot initialise libcurl") : d.configure(*slot);
    if (s.ok() && curl_multi_add_handle(d.multi.get(), slot->easy.get()) != CURLM_OK)
        s = Status(Errc::internal, "cannot start a transfer of " + slot->shown_url);
    if (!s.ok()) {
        // Reported as the outcome of the next run(), like any other failure.
        slot->in_use = false;
        slot->handler = nullptr;
        slot->headers.reset();
        TransferOutcome o;
        o.status = std::move(s);
        d.failed_starts.emplace_back(id, std::move(o));
        return id;
    }
    d.by_id[id] = slot;
    return id;
}

void TransferLoop::abort(TransferId id) {
    Impl &d = *m_impl;
    std::erase_if(d.failed_starts, [id](const auto &f) { return f.first == id; });
    auto it = d.by_id.find(id);
    if (it == d.by_id.end()) return;
    Slot *slot = it->second;
    slot->aborted = true;
    if (d.in_perform) d.deferred_aborts.push_back(slot);
    else d.release(*slot);
}

std::vector<std::pair<TransferId, TransferOutcome>> TransferLoop::run(std::chrono::milliseconds timeout) {
    Impl &d = *m_impl;
    std::vector<std::pair<TransferId, TransferOutcome>> out = std::move(d.failed_starts);
    d.failed_starts.clear();
    if (!d.multi) return out;
    d.step(out);
    if (out.empty()) {
        // Wait for activity, a wakeup or the timeout (also with nothing in flight).
        curl_multi_poll(d.multi.get(), nullptr, 0, static_cast<int>(std::max<std::int64_t>(0, timeout.count())), nullptr);
        if (!d.by_id.empty()) d.step(out);
    }
    d.check_error_bodies(out);
    d.check_stalls(out);
    return out;
}

void TransferLoop::resume_paused() {
    Impl &d = *m_impl;
    // Unpausing may deliver the kept piece right here: handlers run, so this
    // counts as callback context (aborts are deferred).
    d.in_perform = true;
    for (auto &sp : d.slots) {
        Slot &s = *sp;
        if (!s.in_use || s.aborted || !s.paused) continue;
        s.paused = false;
        s.window_start = Clock::now();
        s.window_bytes = 0;
        curl_easy_pause(s.easy.get(), CURLPAUSE_CONT);
    }
    d.in_perform = false;
    d.flush_aborts();
}

std::size_t TransferLoop::paused() const {
    std::size_t n = 0;
    for (const auto &s : m_impl->slots) n += s->in_use && s->paused;
    return n;
}

void TransferLoop::wakeup() {
    if (m_impl->multi) curl_multi_wakeup(m_impl->multi.get());
}

}  // namespace blobfetch
