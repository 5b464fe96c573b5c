#pragma once
// Cancellation: a source that can be cancelled once, observed through tokens.
// Sources can be linked to a parent, so cancelling a fetch cancels every blob,
// and a failing chunk can cancel just its own blob's peers.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace blobfetch {

class CancellationSource;

// A cheap, copyable view of a source. A default token is never cancelled.
// Thread safety: all members may be called from any thread.
class CancellationToken {
public:
    CancellationToken() = default;
    bool cancelled() const;

private:
    friend class CancellationSource;
    struct State;
    explicit CancellationToken(std::shared_ptr<State> state) : m_state(std::move(state)) {}
    std::shared_ptr<State> m_state;

public:
    // Registers a wake-up called once when the token is cancelled (at once if it
    // already is). Used to interrupt blocking waits (curl_multi_wakeup). The
    // callback runs on the cancelling thread and must be quick and noexcept.
    // Returns an id for remove_waker.
    std::uint64_t add_waker(std::function<void()> waker) const;
    // Once it returns, the waker is not running and never will: when cancel()
    // already took it, this waits until cancel() has run it (except on the
    // cancelling thread itself, from inside a waker).
    void remove_waker(std::uint64_t id) const;

    // Blocks for up to `duration`, returning early (true) when cancelled.
    // Returns false when the time ran out uncancelled.
    bool wait_for(std::chrono::milliseconds duration) const;
};

// Owns cancellation state. Non-copyable; tokens outlive it safely.
class CancellationSource {
public:
    CancellationSource();
    // A source that is cancelled whenever `parent` is.
    explicit CancellationSource(const CancellationToken &parent);
    ~CancellationSource();
    CancellationSource(const CancellationSource &) = delete;
    CancellationSource &operator=(const CancellationSource &) = delete;

    void cancel();
    bool cancelled() const;
    CancellationToken token() const;

private:
    std::shared_ptr<CancellationToken::State> m_state;
    CancellationToken m_parent;
    std::uint64_t m_parent_waker = 0;
};

}  // namespace blobfetch
