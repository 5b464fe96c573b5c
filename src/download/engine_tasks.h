#pragma once
// Where the download engine's blocking work runs, and how its results come
// back: a pool of workers for file work (opening, checking, syncing,
// hashing, publishing), one writer thread for positional writes (FIFO: a
// task queued after a blob's writes runs after them), and the inbox through
// which every result returns to the engine's thread. Nothing here knows a
// blob: a task is work (on a worker or the writer) and `then` (on the
// engine's thread, when it drains the inbox).

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "download/task_pool.h"

namespace blobfetch::detail {

class EngineTasks {
public:
    // `wakeup` makes the engine's thread drain the inbox soon (called from
    // any thread, once per batch posted).
    EngineTasks(std::size_t workers, std::function<void()> wakeup)
        : m_wakeup(std::move(wakeup)), m_pool(workers) {}

    // Queues `fn` to run on the engine's thread (from any thread).
    void post(std::function<void()> fn);
    // On the engine's thread: runs everything posted so far.
    void drain();

    // Runs `work` on a worker; `then(result)` runs on the engine's thread
    // afterwards. An exception thrown by `work` becomes Errc::internal.
    template <class Work, class Then>
    void submit(Work work, Then then) {
        run_on(m_pool, std::move(work), std::move(then));
    }
    // The same on the writer thread, after every write queued before.
    template <class Work, class Then>
    void write(Work work, Then then) {
        run_on(m_writer, std::move(work), std::move(then));
    }

    // Tasks whose `then` has not run yet (the engine's run ends at 0).
    std::size_t outstanding() const { return m_outstanding; }

private:
    template <class Work, class Then>
    void run_on(TaskPool &pool, Work work, Then then) {
        ++m_outstanding;
        pool.submit([this, work = std::move(work), then = std::move(then)]() mutable {
            using Result = decltype(work());
            std::shared_ptr<Result> result;
            try {
                result = std::make_shared<Result>(work());
            } catch (const std::exception &e) {
                result = std::make_shared<Result>(Status(Errc::internal, std::string("internal error: ") + e.what()));
            } catch (...) {
                result = std::make_shared<Result>(Status(Errc::internal, "internal error in a worker task"));
            }
            post([this, result, then = std::move(then)]() mutable {
                --m_outstanding;
                then(std::move(*result));
            });
        });
    }

    std::function<void()> m_wakeup;
    std::size_t m_outstanding = 0;  // engine thread only
    std::mutex m_inbox_mutex;
    std::vector<std::function<void()>> m_inbox;
    // Declared last: destroyed first, so every task (and its post()) has
    // finished before the inbox goes away.
    TaskPool m_pool;
    TaskPool m_writer{1};  // one thread, FIFO
};

}  // namespace blobfetch::detail
