// libcurl implementation of ITransport. Each instance owns one easy handle
// (reused, so connections stay alive between requests) driven by its own multi
// handle: waiting happens in curl_multi_poll, which a cancellation wakes at
// once through curl_multi_wakeup.

#include <cstring>
#include <ctime>
#include <vector>

#include "base/path_safety.h"
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

// State of one perform() call, reachable from curl's callbacks.
struct TransferState {
    IBodySink *sink = nullptr;
    CURL *easy = nullptr;
    ResponseHead head;
    bool head_delivered = false;
    bool success_status = false;  // the final response is one whose body we want
    Status sink_status;           // why the sink aborted, if it did
    std::int64_t body_bytes = 0;

    // Headers arrive for every response in a redirect chain; keep the last.
    void on_header_line(std::string_view line) {
        if (line.rfind("HTTP/", 0) == 0) {
            head = ResponseHead{};
            return;
        }
        std::string name, value;
        if (!split_header_line(line, name, value)) return;
        if (name == "content-range") head.content_range = value;
        else if (name == "etag") head.etag = value;
        else if (name == "last-modified") head.last_modified = value;
        else if (name == "retry-after") head.retry_after = parse_retry_after(value, std::time(nullptr));
    }

    // Decides, once per response, whether its body is wanted.
    bool deliver_head() {
        if (head_delivered) return sink_status.ok();
        head_delivered = true;
        long code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        head.status = code;
        curl_off_t cl = -1;
        curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        head.content_length = cl;
        success_status = code == 0 || (code >= 200 && code < 300);
        if (!success_status) return true;  // error body: swallowed, never delivered
        sink_status = sink->on_response(head);
        return sink_status.ok();
    }
};

size_t header_cb(char *data, size_t size, size_t n, void *user) {
    static_cast<TransferState *>(user)->on_header_line(std::string_view(data, size * n));
    return size * n;
}

size_t write_cb(char *data, size_t size, size_t n, void *user) {
    auto *st = static_cast<TransferState *>(user);
    const size_t len = size * n;
    if (!st->deliver_head()) return CURL_WRITEFUNC_ERROR;
    if (!st->success_status) return len;  // discard error pages
    st->sink_status = st->sink->on_body(data, len);
    if (!st->sink_status.ok()) return CURL_WRITEFUNC_ERROR;
    st->body_bytes += static_cast<std::int64_t>(len);
    return len;
}

bool is_retryable_http(long code) { return code == 408 || code == 425 || code == 429 || code >= 500; }

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

class CurlTransport final : public ITransport {
public:
    explicit CurlTransport(TransportOptions options) : m_options(std::move(options)) {
        detail::ensure_curl_global_init();
        m_easy.reset(curl_easy_init());
        m_multi.reset(curl_multi_init());
    }

    TransferOutcome perform(const HttpRequest &request, IBodySink &sink, const CancellationToken &cancel) override {
        TransferOutcome out;
        const std::string shown = redact_url(request.url);
        if (!m_easy || !m_multi) {
            out.status = Status(Errc::internal, "cannot initialise libcurl");
            return out;
        }
        if (cancel.cancelled()) {
            out.status = Status(Errc::cancelled, "cancelled before requesting " + shown);
            return out;
        }
        TransferState st;
        st.sink = &sink;
        st.easy = m_easy.get();
        CurlSlist headers;
        if (Status s = configure(request, st, headers); !s.ok()) {
            out.status = s;
            return out;
        }

        CURLM *multi = m_multi.get();
        curl_multi_add_handle(multi, m_easy.get());
        std::uint64_t waker = cancel.add_waker([multi] { curl_multi_wakeup(multi); });
        CURLcode rc = CURLE_OK;
        bool done = false, cancelled = false;
        while (!done) {
            int running = 0;
            CURLMcode mc = curl_multi_perform(multi, &running);
            if (mc != CURLM_OK) {
                rc = CURLE_FAILED_INIT;
                break;
            }
            int queued = 0;
            while (CURLMsg *msg = curl_multi_info_read(multi, &queued)) {
                if (msg->msg == CURLMSG_DONE) {
                    rc = msg->data.result;
                    done = true;
                }
            }
            if (done) break;
            if (cancel.cancelled()) {
                cancelled = true;
                break;
            }
            // Bounded slice: cancellation is also noticed without a wakeup.
            curl_multi_poll(multi, nullptr, 0, 100, nullptr);
        }
        cancel.remove_waker(waker);
        curl_multi_remove_handle(multi, m_easy.get());
        // Options set for this request must not leak into the next one.
        curl_easy_setopt(m_easy.get(), CURLOPT_HTTPHEADER, nullptr);

        out.body_bytes = st.body_bytes;
        out.head = st.head;
        if (cancelled) {
            out.status = Status(Errc::cancelled, "cancelled while downloading " + shown);
            return out;
        }
        classify(rc, st, shown, out);
        return out;
    }

private:
    Status configure(const HttpRequest &request, TransferState &st, CurlSlist &headers) {
        CURL *e = m_easy.get();
        curl_easy_reset(e);  // keeps live connections and caches
        curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, request.url.rfind("https:", 0) == 0 ? "https" : "http,https");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(m_options.max_redirects));
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(m_options.connect_timeout.count()));
        if (m_options.stall_min_speed > 0) {
            long secs = static_cast<long>((m_options.stall_timeout.count() + 999) / 1000);
            curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(m_options.stall_min_speed));
            curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, secs < 1 ? 1L : secs);
        }
        if (!m_options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, m_options.ca_file.c_str());
        const std::string agent =
            m_options.user_agent.empty() ? std::string("blobfetch/") + BLOBFETCH_VERSION : m_options.user_agent;
        curl_easy_setopt(e, CURLOPT_USERAGENT, agent.c_str());
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &st);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &st);
        if (request.range_begin >= 0) {
            std::string range = std::to_string(request.range_begin) + "-";
            if (request.range_end > request.range_begin) range += std::to_string(request.range_end - 1);
            curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());  // copied by libcurl
        }
        std::size_t start = 0;
        const std::string &h = request.headers;
        while (start < h.size()) {
            std::size_t end = h.find('\n', start);
            if (end == std::string::npos) end = h.size();
            std::string line = h.substr(start, end - start);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!line.empty() && !detail::slist_append(headers, line.c_str()))
                return Status(Errc::internal, "out of memory building request headers");
            start = end + 1;
        }
        if (!request.if_range.empty()) {
            std::string line = "If-Range: " + request.if_range;
            if (!detail::slist_append(headers, line.c_str()))
                return Status(Errc::internal, "out of memory building request headers");
        }
        if (headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
        return Status::success();
    }

    void classify(CURLcode rc, TransferState &st, const std::string &shown, TransferOutcome &out) {
        long code = 0;
        curl_easy_getinfo(m_easy.get(), CURLINFO_RESPONSE_CODE, &code);
        out.head.status = code;
        if (!st.sink_status.ok()) {  // the sink refused the response or a write failed
            out.status = st.sink_status;
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
                out.status = st.sink_status;
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
                out.status = Status(Errc::network, why + " (stalled or timed out; will retry)");
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

    TransportOptions m_options;
    CurlEasy m_easy;
    CurlMulti m_multi;
};

}  // namespace

std::unique_ptr<ITransport> make_curl_transport(const TransportOptions &options) {
    return std::make_unique<CurlTransport>(options);
}

}  // namespace blobfetch
