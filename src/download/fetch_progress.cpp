#include "download/fetch_progress.h"

#include <algorithm>

namespace blobfetch {

FetchProgress::FetchProgress(const std::vector<std::int64_t> &sizes)
    : m_blobs(std::make_unique<Blob[]>(sizes.size())), m_count(sizes.size()), m_details(sizes.size()) {
    bool any_known = false;
    std::int64_t total = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        m_blobs[i].size = sizes[i];
        if (sizes[i] >= 0) {
            any_known = true;
            total += sizes[i];
        }
    }
    m_total = any_known || sizes.empty() ? total : -1;
}

void FetchProgress::set_state(std::size_t blob, BlobState state, std::string detail) {
    {
        std::lock_guard lock(m_detail_mutex);
        m_details[blob] = std::move(detail);
    }
    m_blobs[blob].state.store(static_cast<std::int32_t>(state), std::memory_order_release);
}

bool FetchProgress::emit(const ProgressFn &fn) {
    bool cancel = false;
    std::int64_t done = 0;
    std::vector<std::size_t> changed;
    for (std::size_t i = 0; i < m_count; ++i) {
        Blob &b = m_blobs[i];
        std::int32_t state = b.state.load(std::memory_order_acquire);
        std::int64_t bytes = std::max(b.reported_bytes, b.bytes.load(std::memory_order_relaxed));
        if (b.size >= 0) bytes = std::min(bytes, b.size);
        b.reported_bytes = bytes;
        done += bytes;
        if (state != b.reported_state) {
            b.reported_state = state;
            changed.push_back(i);
        }
    }
    m_reported_done = std::max(m_reported_done, done);
    ProgressEvent ev;
    ev.total_bytes = m_total;
    ev.done_bytes = m_reported_done;
    if (!fn) return false;
    for (std::size_t i : changed) {
        ev.blob = i;
        ev.blob_state = static_cast<BlobState>(m_blobs[i].reported_state);
        ev.blob_done_bytes = m_blobs[i].reported_bytes;
        ev.blob_total_bytes = m_blobs[i].size;
        {
            std::lock_guard lock(m_detail_mutex);
            ev.detail = m_details[i];
        }
        cancel |= fn(ev);
    }
    ev = ProgressEvent{};
    ev.total_bytes = m_total;
    ev.done_bytes = m_reported_done;
    cancel |= fn(ev);
    return cancel;
}

}  // namespace blobfetch
