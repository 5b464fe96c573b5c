#include "download/engine_tasks.h"

namespace blobfetch::detail {

void EngineTasks::post(std::function<void()> fn) {
    bool was_empty;
    {
        std::lock_guard lock(m_inbox_mutex);
        was_empty = m_inbox.empty();
        m_inbox.push_back(std::move(fn));
    }
    // One wake-up per batch: a non-empty inbox has one pending already (the
    // engine's thread drains everything it finds after waking).
    if (was_empty) m_wakeup();
}

void EngineTasks::drain() {
    std::vector<std::function<void()>> items;
    {
        std::lock_guard lock(m_inbox_mutex);
        items.swap(m_inbox);
    }
    for (auto &fn : items) fn();
}

}  // namespace blobfetch::detail
