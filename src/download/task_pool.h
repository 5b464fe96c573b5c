#pragma once
// A small fixed pool of worker threads for blocking file work (opening and
// checking partial files, fsync, hashing, publishing), so the transfer
// thread never waits on the disk.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace blobfetch {

// Thread safety: submit() from any thread. The destructor runs every task
// already submitted, then joins the threads.
class TaskPool {
public:
    explicit TaskPool(std::size_t threads);
    ~TaskPool();
    TaskPool(const TaskPool &) = delete;
    TaskPool &operator=(const TaskPool &) = delete;

    // Runs `task` on a worker, in submission order across the pool (FIFO).
    // Tasks must not throw.
    void submit(std::function<void()> task);

private:
    void work();

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<std::function<void()>> m_tasks;
    bool m_stop = false;
    std::vector<std::thread> m_threads;
};

}  // namespace blobfetch
