#include "base/cancellation.h"

#include <condition_variable>
#include <thread>
#include <utility>

namespace blobfetch {

struct CancellationToken::State {
    std::atomic<bool> cancelled{false};
    std::mutex mutex;
    std::uint64_t next_id = 1;
    std::vector<std::pair<std::uint64_t, std::function<void()>>> wakers;

    void cancel() {
        std::vector<std::pair<std::uint64_t, std::function<void()>>> to_call;
        {
            std::lock_guard lock(mutex);
            if (cancelled.exchange(true)) return;
            to_call.swap(wakers);
        }
        for (auto &w : to_call) w.second();
    }
};

bool CancellationToken::cancelled() const {
    return m_state && m_state->cancelled.load(std::memory_order_acquire);
}

std::uint64_t CancellationToken::add_waker(std::function<void()> waker) const {
    if (!m_state) return 0;
    {
        std::lock_guard lock(m_state->mutex);
        if (!m_state->cancelled.load()) {
            std::uint64_t id = m_state->next_id++;
            m_state->wakers.emplace_back(id, std::move(waker));
            return id;
        }
    }
    waker();
    return 0;
}

void CancellationToken::remove_waker(std::uint64_t id) const {
    if (!m_state || id == 0) return;
    std::lock_guard lock(m_state->mutex);
    auto &w = m_state->wakers;
    for (auto it = w.begin(); it != w.end(); ++it) {
        if (it->first == id) {
            w.erase(it);
            return;
        }
    }
}

bool CancellationToken::wait_for(std::chrono::milliseconds duration) const {
    if (!m_state) {
        std::this_thread::sleep_for(duration);
        return false;
    }
    struct Waiter {
        std::mutex mutex;
        std::condition_variable cv;
        bool fired = false;
    };
    auto waiter = std::make_shared<Waiter>();
    std::uint64_t id = add_waker([waiter] {
        std::lock_guard lock(waiter->mutex);
        waiter->fired = true;
        waiter->cv.notify_all();
    });
    {
        std::unique_lock lock(waiter->mutex);
        waiter->cv.wait_for(lock, duration, [&] { return waiter->fired; });
    }
    remove_waker(id);
    return cancelled();
}

CancellationSource::CancellationSource() : m_state(std::make_shared<CancellationToken::State>()) {}

CancellationSource::CancellationSource(const CancellationToken &parent) : CancellationSource() {
    m_parent = parent;
    std::weak_ptr<CancellationToken::State> weak = m_state;
    m_parent_waker = m_parent.add_waker([weak] {
        if (auto s = weak.lock()) s->cancel();
    });
}

CancellationSource::~CancellationSource() { m_parent.remove_waker(m_parent_waker); }

void CancellationSource::cancel() { m_state->cancel(); }

bool CancellationSource::cancelled() const { return m_state->cancelled.load(std::memory_order_acquire); }

CancellationToken CancellationSource::token() const { return CancellationToken(m_state); }

}  // namespace blobfetch
