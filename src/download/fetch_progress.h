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

// Thread safety: the writer side (set_state, add_bytes, reset_bytes) may be
// called from any thread; emit() from one reporting thread at a time.
class FetchProgress {
public:
    explicit FetchProgress(const std::vector<std::int64_t> &sizes);

    void set_state(std::size_t blob, BlobState state, std::string detail = {});
    void add_bytes(std::size_t blob, std::int64_t n) { m_blobs[blob].bytes.fetch_add(n, std::memory_order_relaxed); }
    // A retry starts the blob again from zero bytes.
    void reset_bytes(std::size_t blob) { m_blobs[blob].bytes.store(0, std::memory_order_relaxed); }

    // Calls `fn` once per blob whose state changed since the last emit, then
    // once for the totals. Reported byte counts never decrease. Returns true if
    // any call asked to cancel.
    bool emit(const ProgressFn &fn);

private:
    struct Blob {
        std::atomic<std::int32_t> state{0};
        std::atomic<std::int64_t> bytes{0};
        std::int64_t size = -1;
        // Reporter-side memory of what was last reported.
        std::int32_t reported_state = -1;
        std::int64_t reported_bytes = 0;
    };
    std::unique_ptr<Blob[]> m_blobs;
    std::size_t m_count = 0;
    std::int64_t m_total = -1;
    std::int64_t m_reported_done = 0;
    std::mutex m_detail_mutex;
    std::vector<std::string> m_details;
};

}  // namespace blobfetch
