// The plugin's C ABI bridge: converts bf_* structs to core types and back,
// owns the strings handed to the host, and turns every C++ exception into a
// status code. Nothing else is visible from the module (see exports.map).

#include <blobfetch/fetch_provider.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "base/path_safety.h"
#include "base/url.h"
#include "config/provider_options.h"
#include "download/blob_set_fetcher.h"
#include "hash/sha256.h"
#include "io/file.h"

#ifndef BLOBFETCH_VERSION
#define BLOBFETCH_VERSION "0.1.0"
#endif

struct bf_session {
    blobfetch::config::ProviderOptions options;
    std::unique_ptr<blobfetch::BlobSetFetcher> fetcher;
    // Strings handed to the host; valid until the next fetch() or destroy.
    std::vector<std::string> messages;
    // The last fetch's failure text, in two slots: a fetch writes the slot
    // that is not current and switches once it is done, so that
    // session_last_error() (from any thread, also while a fetch runs) always
    // reads a string no one is writing.
    std::string last_errors[2];
    std::atomic<unsigned> last_error_slot{0};
    std::atomic<bool> busy{false};  // a fetch() runs (BF_E_BUSY for a second one)
};

namespace {

using blobfetch::Errc;
using blobfetch::Status;

// Serves exactly these ABI versions.
constexpr std::uint32_t kMinAbi = 1;
constexpr std::uint32_t kMaxAbi = BF_ABI_VERSION;

void copy_error(char *buf, size_t size, const std::string &text) {
    if (!buf || size == 0) return;
    size_t n = std::min(size - 1, text.size());
    std::memcpy(buf, text.data(), n);
    buf[n] = '\0';
}

// True when a struct given with `struct_size` contains the member ending at `end`.
constexpr bool has_member(std::uint32_t struct_size, std::size_t end) { return struct_size >= end; }
#define BF_HAS(ptr, type, member) \
    has_member((ptr)->struct_size, offsetof(type, member) + sizeof(((type *)nullptr)->member))

const char *kEmpty = "";

// Writes one result, respecting the caller's struct_size. `message` must
// outlive the session's next fetch() (a static text, or one of its messages).
void fill_result(bf_blob_result *r, bf_status status, std::int64_t downloaded, std::int64_t skipped,
                 const char *message, bf_blob_state state = BF_BLOB_FAILED) {
    if (!r) return;
    if (BF_HAS(r, bf_blob_result, state)) r->state = status == BF_OK ? state : BF_BLOB_FAILED;
    if (BF_HAS(r, bf_blob_result, status)) r->status = status;
    if (BF_HAS(r, bf_blob_result, bytes_downloaded)) r->bytes_downloaded = downloaded;
    if (BF_HAS(r, bf_blob_result, bytes_skipped)) r->bytes_skipped = skipped;
    if (BF_HAS(r, bf_blob_result, message)) r->message = message;
}

// fill_result() with a message the session keeps until its next fetch().
void set_result(bf_session *s, bf_blob_result *r, bf_status status, std::int64_t downloaded, std::int64_t skipped,
                std::string message, bf_blob_state state = BF_BLOB_FAILED) {
    if (!r) return;
    const char *text = kEmpty;
    if (s && BF_HAS(r, bf_blob_result, message)) {
        s->messages.push_back(std::move(message));
        text = s->messages.back().c_str();
    }
    fill_result(r, status, downloaded, skipped, text, state);
}

// An array of ABI structs as the caller laid it out: element i lies at byte
// i * stride, the stride being the first element's struct_size (never the
// plugin's own sizeof: a host built against an earlier or a later header has
// shorter or longer elements). Members are read and written only within the
// struct_size each element carries (BF_HAS).
template <class T>
class CallerArray {
public:
    CallerArray(T *base, std::uint32_t n) : m_base(reinterpret_cast<unsigned char *>(const_cast<std::remove_const_t<T> *>(base))), m_n(n) {
        if (m_base && n > 0) m_stride = std::launder(reinterpret_cast<T *>(m_base))->struct_size;
    }
    // Whether the array can be walked: the first element's struct_size is
    // at least the struct's first published layout (`min_size`) and a
    // multiple of its alignment, and every element carries the same one.
    // Reads every element's struct_size; never throws.
    bool walkable(std::size_t min_size) const noexcept { return first_bad(min_size) == kNone; }
    // Why it cannot be walked, naming the element ("" when it can).
    std::string layout_error(const char *what, std::size_t min_size) const {
        const std::uint32_t bad = first_bad(min_size);
        if (bad == kNone) return {};
        if (bad == 0)
            return std::string("fetch: ") + what + "[0].struct_size is " + std::to_string(m_stride) +
                   "; set it to sizeof(" + what + "'s struct) (at least " + std::to_string(min_size) +
                   ", a multiple of " + std::to_string(alignof(T)) + ")";
        return std::string("fetch: ") + what + "[" + std::to_string(bad) + "].struct_size is " +
               std::to_string((*this)[bad].struct_size) + " but " + what + "[0].struct_size is " +
               std::to_string(m_stride) + "; every element of one array has the same struct_size";
    }
    // Precondition: layout_error() is "" and i < n.
    T &operator[](std::uint32_t i) const {
        return *std::launder(reinterpret_cast<T *>(m_base + static_cast<std::size_t>(i) * m_stride));
    }

private:
    static constexpr std::uint32_t kNone = UINT32_MAX;
    // The first element whose struct_size makes the array unwalkable (0 for
    // the stride itself), or kNone.
    std::uint32_t first_bad(std::size_t min_size) const noexcept {
        if (m_stride < min_size || m_stride % alignof(T) != 0) return 0;
        for (std::uint32_t i = 1; i < m_n; ++i)
            if ((*this)[i].struct_size != m_stride) return i;
        return kNone;
    }

    unsigned char *m_base;
    std::uint32_t m_n;
    std::uint32_t m_stride = 0;
};

// Validates one descriptor and converts it. Errors name the blob index.
// Precondition: b.struct_size >= BF_BLOB_MIN_SIZE (checked for the array).
blobfetch::Expected<blobfetch::BlobSpec> to_spec(const bf_blob &b, uint32_t index) {
    const std::string where = "blob " + std::to_string(index);
    if (!b.url || !*b.url) return Status(Errc::invalid_argument, where + ": url is missing");
    // As vcpkg and curl's command line do: a space (or another character a
    // URL may not hold) is percent-encoded; existing escapes stay.
    std::string url = blobfetch::normalize_url(b.url);
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0 && url.rfind("file://", 0) != 0)
        return Status(Errc::invalid_argument, where + ": URL '" + blobfetch::redact_url(url) +
                                                  "' must start with http://, https:// or file://");
    if (!b.path) return Status(Errc::invalid_argument, where + ": path is missing");
    if (Status s = blobfetch::check_relative_path(b.path); !s.ok()) return Status(s.code(), where + ": " + s.message());
    if (b.size < -1) return Status(Errc::invalid_argument, where + ": size must be -1 (unknown) or >= 0");
    blobfetch::BlobSpec spec;
    spec.url = std::move(url);
    spec.path = b.path;
    spec.size = b.size;
    if (b.sha256 && *b.sha256) {
        if (!blobfetch::is_sha256_hex(b.sha256))
            return Status(Errc::invalid_argument, where + " ('" + spec.path + "'): sha256 must be 64 hex digits");
        spec.sha256 = blobfetch::lower_hex(b.sha256);
    }
    if (BF_HAS(&b, bf_blob, headers) && b.headers) spec.headers = b.headers;
    if (BF_HAS(&b, bf_blob, sha512) && b.sha512 && *b.sha512) {
        if (!blobfetch::is_sha512_hex(b.sha512))
            return Status(Errc::invalid_argument, where + " ('" + spec.path + "'): sha512 must be 128 hex digits");
        spec.sha512 = blobfetch::lower_hex(b.sha512);
    }
    return spec;
}

bf_status session_create(const char *config_json, bf_session **out, char *error_buf, size_t error_buf_size) noexcept {
    if (out) *out = nullptr;
    try {
        if (!out) {
            copy_error(error_buf, error_buf_size, "session_create: out_session must not be NULL");
            return BF_E_INVALID_ARGUMENT;
        }
        auto options = blobfetch::config::parse_provider_options_text(config_json ? config_json : "", "session config");
        if (!options) {
            copy_error(error_buf, error_buf_size, options.message());
            return BF_E_CONFIG;
        }
        auto session = std::make_unique<bf_session>();
        session->options = *options;
        session->fetcher = std::make_unique<blobfetch::BlobSetFetcher>(session->options);
        *out = session.release();
        copy_error(error_buf, error_buf_size, "");
        return BF_OK;
    } catch (const std::bad_alloc &) {
        copy_error(error_buf, error_buf_size, "out of memory creating a session");
    } catch (const std::exception &e) {
        copy_error(error_buf, error_buf_size, std::string("internal error creating a session: ") + e.what());
    } catch (...) {
        copy_error(error_buf, error_buf_size, "internal error creating a session");
    }
    return BF_E_INTERNAL;
}

void session_destroy(bf_session *session) noexcept { delete session; }

const char *session_last_error(bf_session *session) noexcept {
    return session ? session->last_errors[session->last_error_slot.load(std::memory_order_acquire) & 1].c_str() : kEmpty;
}

// Makes `text` what session_last_error() returns (once per fetch, at its end).
void publish_last_error(bf_session *session, std::string text) noexcept {
    const unsigned next = (session->last_error_slot.load(std::memory_order_relaxed) + 1) & 1;
    try {
        session->last_errors[next] = std::move(text);
    } catch (...) {
        session->last_errors[next].clear();
    }
    session->last_error_slot.store(next, std::memory_order_release);
}

bf_status fetch_impl(bf_session *session, const char *cache_dir, const bf_blob *blobs, uint32_t n,
                     const bf_callbacks *callbacks, bf_blob_result *results, std::string &last_error) {
    session->messages.clear();
    session->messages.reserve(static_cast<std::size_t>(n) + 1);
    if (n > 0 && !results) {
        last_error = "fetch: results must not be NULL";
        return BF_E_INVALID_ARGUMENT;
    }
    const CallerArray<bf_blob_result> out(results, n);
    if (n > 0) {
        // Without a stride that can be trusted, no entry can be written.
        if (std::string why = out.layout_error("results", BF_BLOB_RESULT_MIN_SIZE); !why.empty()) {
            last_error = why + "; no result was written";
            return BF_E_INVALID_ARGUMENT;
        }
    }
    auto fail_all = [&](bf_status code, const std::string &message) {
        last_error = message;
        for (uint32_t i = 0; i < n; ++i) set_result(session, &out[i], code, 0, 0, message);
        return code;
    };
    if (n > 0 && !blobs) return fail_all(BF_E_INVALID_ARGUMENT, "fetch: blobs must not be NULL");
    if (!cache_dir || !*cache_dir) return fail_all(BF_E_INVALID_ARGUMENT, "fetch: cache_dir must not be empty");
    const CallerArray<const bf_blob> in(blobs, n);
    if (n > 0)
        if (std::string why = in.layout_error("blobs", BF_BLOB_MIN_SIZE); !why.empty())
            return fail_all(BF_E_INVALID_ARGUMENT, why + "; nothing was fetched");

    // Convert the descriptors; invalid ones fail on their own.
    std::vector<blobfetch::BlobSpec> specs;
    std::vector<uint32_t> spec_index;  // spec -> blob index
    std::vector<Status> invalid(n);
    for (uint32_t i = 0; i < n; ++i) {
        auto spec = to_spec(in[i], i);
        if (spec) {
            specs.push_back(std::move(*spec));
            spec_index.push_back(i);
        } else {
            invalid[i] = spec.status();
        }
    }

    bf_progress_fn progress_cb = nullptr;
    bf_log_fn log_cb = nullptr;
    void *user = nullptr;
    if (callbacks && BF_HAS(callbacks, bf_callbacks, log)) {
        progress_cb = callbacks->progress;
        log_cb = callbacks->log;
        user = callbacks->user;
    }
    blobfetch::Logger logger;
    if (log_cb)
        logger = blobfetch::Logger([log_cb, user](blobfetch::LogLevel level, std::string_view message) {
            std::string text(message);
            // Callbacks must return normally (the header says so); one that
            // throws anyway (a C++ host) loses that line, never the process.
            try {
                log_cb(user, static_cast<int32_t>(level), text.c_str());
            } catch (...) {
            }
        });
    for (uint32_t i = 0; i < n; ++i)
        if (!invalid[i].ok()) logger.error(invalid[i].message());

    blobfetch::ProgressFn progress;
    if (progress_cb)
        progress = [&](const blobfetch::ProgressEvent &ev) {
            bf_progress p{};
            p.struct_size = sizeof(bf_progress);
            p.blob_index = ev.blob ? spec_index[*ev.blob] : BF_NO_BLOB;
            p.total_bytes = ev.total_bytes;
            p.done_bytes = ev.done_bytes;
            p.blob_state = static_cast<bf_blob_state>(ev.blob_state);
            p.blob_done_bytes = ev.blob_done_bytes;
            p.blob_total_bytes = ev.blob_total_bytes;
            p.detail = ev.detail.empty() ? nullptr : ev.detail.c_str();
            return progress_cb(user, &p) != 0;
        };

    // cache_dir is UTF-8 (the C ABI's strings are); a path built from a plain
    // std::string would read it in the ANSI code page on Windows.
    blobfetch::FetchResult fr = session->fetcher->fetch(blobfetch::path_from_utf8(cache_dir), specs, progress, logger);

    std::size_t failed = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (!invalid[i].ok()) {
            ++failed;
            set_result(session, &out[i], static_cast<bf_status>(invalid[i].code()), 0, 0, invalid[i].message());
        }
    }
    for (std::size_t k = 0; k < specs.size(); ++k) {
        const auto &o = fr.blobs[k];
        std::string message = o.status.ok() ? (o.skipped ? "skipped: already in the cache" : "downloaded and verified")
                                            : o.status.message();
        if (!o.status.ok()) ++failed;
        set_result(session, &out[spec_index[k]], static_cast<bf_status>(o.status.code()), o.bytes_downloaded,
                   o.bytes_skipped, std::move(message), o.skipped ? BF_BLOB_SKIPPED : BF_BLOB_DONE);
    }
    if (fr.status.code() == Errc::internal) {  // e.g. a progress callback that threw
        last_error = fr.status.message();
        return BF_E_INTERNAL;
    }
    if (fr.status.code() == Errc::cancelled) {
        last_error = fr.status.message();
        return BF_E_CANCELLED;
    }
    if (failed) {
        last_error = std::to_string(failed) + " of " + std::to_string(n) + " blobs failed";
        return BF_E_PARTIAL;
    }
    return BF_OK;
}

const char *kBusy =
    "fetch: another fetch() of this session is running (from another thread or a callback); nothing was done; "
    "use one session per concurrent fetch";

// Marks the session busy for one fetch() (cleared on every way out).
class BusyGuard {
public:
    explicit BusyGuard(bf_session *s) : m_s(s), m_owned(!s->busy.exchange(true, std::memory_order_acquire)) {}
    ~BusyGuard() {
        if (m_owned) m_s->busy.store(false, std::memory_order_release);
    }
    BusyGuard(const BusyGuard &) = delete;
    BusyGuard &operator=(const BusyGuard &) = delete;
    bool owned() const { return m_owned; }

private:
    bf_session *m_s;
    bool m_owned;
};

bf_status fetch(bf_session *session, const char *cache_dir, const bf_blob *blobs, uint32_t n,
                const bf_callbacks *callbacks, bf_blob_result *results) noexcept {
    if (!session) return BF_E_INVALID_ARGUMENT;
    BusyGuard guard(session);
    if (!guard.owned()) {
        // Nothing of the session is touched: its strings belong to the running fetch.
        const CallerArray<bf_blob_result> out(results, n);
        if (results && out.walkable(BF_BLOB_RESULT_MIN_SIZE))
            for (uint32_t i = 0; i < n; ++i) fill_result(&out[i], BF_E_BUSY, 0, 0, kBusy);
        return BF_E_BUSY;
    }
    std::string error;
    try {
        const bf_status rc = fetch_impl(session, cache_dir, blobs, n, callbacks, results, error);
        publish_last_error(session, std::move(error));
        return rc;
    } catch (const std::bad_alloc &) {
        error = "out of memory during fetch";
    } catch (const std::exception &e) {
        error = std::string("internal error during fetch: ") + e.what();
    } catch (...) {
        error = "internal error during fetch";
    }
    const CallerArray<bf_blob_result> out(results, n);
    if (results && out.walkable(BF_BLOB_RESULT_MIN_SIZE))
        for (uint32_t i = 0; i < n; ++i) {
            try {
                set_result(session, &out[i], BF_E_INTERNAL, 0, 0, error);
            } catch (...) {
                fill_result(&out[i], BF_E_INTERNAL, 0, 0, kEmpty);
            }
        }
    publish_last_error(session, std::move(error));
    return BF_E_INTERNAL;
}

const bf_provider kProvider = {
    sizeof(bf_provider), BF_ABI_VERSION, BLOBFETCH_VERSION, session_create, session_destroy, fetch, session_last_error,
};

}  // namespace

extern "C" BF_EXPORT bf_status bf_get_provider(uint32_t abi_version, const bf_provider **out_provider,
                                               char *error_buf, size_t error_buf_size) {
    if (out_provider) *out_provider = nullptr;
    if (abi_version < kMinAbi || abi_version > kMaxAbi) {
        char text[160];
        std::snprintf(text, sizeof text,
                      "blobfetch plugin %s serves C ABI versions %u to %u; the host asked for version %u",
                      BLOBFETCH_VERSION, kMinAbi, kMaxAbi, abi_version);
        copy_error(error_buf, error_buf_size, text);
        return BF_E_UNSUPPORTED_ABI;
    }
    if (!out_provider) {
        copy_error(error_buf, error_buf_size, "bf_get_provider: out_provider must not be NULL");
        return BF_E_INVALID_ARGUMENT;
    }
    *out_provider = &kProvider;
    copy_error(error_buf, error_buf_size, "");
    return BF_OK;
}
