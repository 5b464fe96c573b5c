#pragma once
// The download engine's write buffers: a fixed budget of equal buffers that
// transfers fill and the writer thread gives back, so memory never grows
// with the chunk size or the number of blobs. Engine thread only.

#include <cstddef>
#include <memory>
#include <vector>

namespace blobfetch::detail {

class WriteBuffers {
public:
    // `max` buffers of `size` bytes at most, allocated on first use.
    WriteBuffers(std::size_t size, std::size_t max) : m_size(size), m_max(max) {}

    std::size_t size() const { return m_size; }
    // A buffer, or nullptr when the budget is used up.
    char *take() {
        if (!m_free.empty()) {
            char *b = m_free.back();
            m_free.pop_back();
            return b;
        }
        if (m_all.size() >= m_max) return nullptr;
        m_all.push_back(std::make_unique<char[]>(m_size));
        return m_all.back().get();
    }
    void give_back(char *buf) {
        if (!buf) return;
        m_free.push_back(buf);
        m_freed = true;
    }
    std::size_t available() const { return m_free.size() + (m_max - m_all.size()); }
    // Whether a buffer came back since the last call (paused transfers may
    // go on).
    bool take_freed() {
        const bool freed = m_freed;
        m_freed = false;
        return freed;
    }

private:
    std::size_t m_size;
    std::size_t m_max;
    bool m_freed = false;
    std::vector<std::unique_ptr<char[]>> m_all;
    std::vector<char *> m_free;
};

}  // namespace blobfetch::detail
