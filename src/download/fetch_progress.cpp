#include "download/fetch_progress.h"

#include <algorithm>

namespace blobfetch {

FetchProgress::FetchProgress(const std::vector<std::int64_t> &sizes)
    : m_blobs(std::make_unique<Blob[]>(sizes.size())), m_count(sizes.size()), m_details(sizes.size()) {
    for (std::size_t i = 0; i < sizes.size(); ++i) m_blobs[i].size.store(sizes[i], std::memory_order_relaxed);
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
    std::int64_t done = 0, total = 0;
    bool any_size = m_count == 0;
    std::vector<std::size_t> changed;
    for (std::size_t i = 0; i < m_count; ++i) {
        Blob &b = m_blobs[i];
        const std::int32_t state = b.state.load(std::memory_order_acquire);
        // Bytes first: a size set before them is then seen too.
        std::int64_t bytes = std::max(b.reported_bytes, b.bytes.load(std::memory_order_acquire));
        const std::int64_t size = b.size.load(std::memory_order_acquire);
        if (size >= 0) bytes = std::min(bytes, size);
        b.reported_bytes = bytes;
        b.reported_size = size;
        done += bytes;
        if (size >= 0) {
            total += size;
            any_size = true;
        } else {
            total += bytes;  // not known yet: at least what it has
        }
        if (state != b.reported_state) {
            b.reported_state = state;
            changed.push_back(i);
        }
    }
    m_reported_done = std::max(m_reported_done, done);
    // A size can shrink (a remote that changed); what was reported cannot.
    if (any_size) m_reported_total = std::max(total, m_reported_done);
    if (!fn) return false;
    ProgressEvent ev;
    ev.total_bytes = m_reported_total;
    ev.done_bytes = m_reported_done;
    for (std::size_t i : changed) {
        ev.blob = i;
        ev.blob_state = static_cast<BlobState>(m_blobs[i].reported_state);
        ev.blob_done_bytes = m_blobs[i].reported_bytes;
        ev.blob_total_bytes = m_blobs[i].reported_size;
        {
            std::lock_guard lock(m_detail_mutex);
            ev.detail = m_details[i];
        }
        cancel |= fn(ev);
    }
    ev = ProgressEvent{};
    ev.total_bytes = m_reported_total;
    ev.done_bytes = m_reported_done;
    cancel |= fn(ev);
    return cancel;
}

}  // namespace blobfetch
