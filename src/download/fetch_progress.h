#pragma once
// Progress of one fetch(): written by worker threads (lock-free counters),
// read and turned into events by the one thread that calls the host back.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace blobfetch {

// Mirrors bf_blob_state.
enum class BlobState : std::int32_t {
    queued = 0,
    skipped = 1,
    waiting_lock = 2,
    downloading = 3,
    verifying = 4,
    done = 5,
    failed = 6,
};

struct ProgressEvent {
    std::optional<std::size_t> blob;  // nullopt: totals only
    std::int64_t total_bytes = -1;
    std::int64_t done_bytes = 0;
    BlobState blob_state = BlobState::queued;
    std::int64_t blob_done_bytes = 0;
    std::int64_t blob_total_bytes = -1;
    std::string detail;
};

// Returns true to cancel the fetch.
using ProgressFn = std::function<bool(const ProgressEvent &)>;

// What is reported: done_bytes never decreases and never exceeds a known
// total_bytes; a blob's done never exceeds its known size. total_bytes is the
// sum of the sizes known so far (the descriptors', and those learned during
// the fetch through set_size), a blob of still unknown size counting for the
// bytes it has; -1 while no size is known at all.
//
// Thread safety: the writer side (set_state, set_size, add_bytes,
// reset_bytes) may be called from any thread; emit() from one reporting
// thread at a time.
class FetchProgress {
public:
    // One size per blob, -1 when unknown.
    explicit FetchProgress(const std::vector<std::int64_t> &sizes);

    void set_state(std::size_t blob, BlobState state, std::string detail = {});
    // The size of a blob whose descriptor had none, once known (the server's
    // answer, a sidecar, a local file, a cached copy). Call it before adding
    // the bytes it covers.
    void set_size(std::size_t blob, std::int64_t size) { m_blobs[blob].size.store(size, std::memory_order_release); }
    void add_bytes(std::size_t blob, std::int64_t n) { m_blobs[blob].bytes.fetch_add(n, std::memory_order_release); }
    // A retry starts the blob again from zero bytes.
    void reset_bytes(std::size_t blob) { m_blobs[blob].bytes.store(0, std::memory_order_release); }

    // Calls `fn` once per blob whose state changed since the last emit, then
    // once for the totals. Returns true if any call asked to cancel.
    bool emit(const ProgressFn &fn);

private:
    struct Blob {
        std::atomic<std::int32_t> state{0};
        std::atomic<std::int64_t> bytes{0};
        std::atomic<std::int64_t> size{-1};
        // Reporter-side memory of what was last reported.
        std::int32_t reported_state = -1;
        std::int64_t reported_bytes = 0;
        std::int64_t reported_size = -1;
    };
    std::unique_ptr<Blob[]> m_blobs;
    std::size_t m_count = 0;
    std::int64_t m_reported_total = -1;
    std::int64_t m_reported_done = 0;
    std::mutex m_detail_mutex;
    std::vector<std::string> m_details;
};

}  // namespace blobfetch
