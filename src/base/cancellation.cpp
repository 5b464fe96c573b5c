#include "base/cancellation.h"

#include <condition_variable>
#include <thread>
#include <utility>

namespace blobfetch {

struct CancellationToken::State {
    std::atomic<bool> cancelled{false};
    std::mutex mutex;
    std::condition_variable calls_done;
    std::uint64_t next_id = 1;
    std::vector<std::pair<std::uint64_t, std::function<void()>>> wakers;
    bool calling = false;        // cancel() is running the wakers it took
    std::thread::id caller;      // ... on this thread

    void cancel() {
        std::vector<std::pair<std::uint64_t, std::function<void()>>> to_call;
        {
            std::lock_guard lock(mutex);
            if (cancelled.exchange(true)) return;
            to_call.swap(wakers);
            calling = true;
            caller = std::this_thread::get_id();
        }
        for (auto &w : to_call) w.second();
        {
            std::lock_guard lock(mutex);
            calling = false;
        }
        calls_done.notify_all();
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
    std::unique_lock lock(m_state->mutex);
    auto &w = m_state->wakers;
    for (auto it = w.begin(); it != w.end(); ++it) {
        if (it->first == id) {
            w.erase(it);
            return;
        }
    }
    // cancel() took it: it may be running right now. Wait until it has run
    // (unless this is the cancelling thread, inside a waker).
    if (m_state->calling && m_state->caller != std::this_thread::get_id())
        m_state->calls_done.wait(lock, [&] { return !m_state->calling; });
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
