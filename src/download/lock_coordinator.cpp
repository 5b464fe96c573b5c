#include "download/lock_coordinator.h"

#include <algorithm>

#include "download/partial_file.h"
#include "lock/dir_lock.h"

namespace blobfetch::detail {

using Clock = std::chrono::steady_clock;

namespace {
// How often a blob behind another holder, or behind another blob of the run
// with its path, is tried again.
constexpr std::chrono::milliseconds kRetryEvery{100};
}  // namespace

struct LockCoordinator::DirEntry {
    std::string rel_dir;
    std::string key;  // path_key(rel_dir): its key in m_dirs
    std::shared_ptr<DirHandle> dir;
    std::shared_ptr<LockFile> file;
    bool attempt_running = false;
    std::size_t users = 0;        // blobs holding their lock through `file` (until they are done)
    std::vector<Job *> waiters;   // blobs that want their lock
    bool retrying = false;        // another process held some: the next attempt is due at next_try
    Clock::time_point next_try{};
    std::string shown;            // the directory, as shown
    bool warned = false;          // the "no lock can be shared" warning was given
    bool open_slot = false;       // counts against max_open_dirs (an attempt runs, or locks are held)
    bool deferred = false;        // an attempt is due once there is room
};

Expected<LockAttemptResult> attempt_locks(DirCache &dirs, LockAttempt a) {
    if (!a.dir) {
        auto opened = dirs.get(a.rel_dir, /*create=*/true);
        if (!opened) return opened.status();
        a.dir = std::move(*opened);
    }
    auto results = try_lock_blobs(a.file, *a.dir, a.names);
    if (!results) return results.status();
    return LockAttemptResult{std::move(a.dir), std::move(a.file), std::move(*results)};
}

void use_private_files(Job &j) {
    j.private_files = true;
    j.paths = with_unique_names(j.paths, private_suffix());
}

void LockCoordinator::request(Job &j, Clock::time_point now) {
    if (m_busy_paths.count(j.path_key)) {
        // Another blob of this fetch works on the same path: look again soon.
        if (j.phase != Phase::locking) {
            j.phase = Phase::locking;
            m_client.waiting(j);
            m_waiting.push_back(&j);
            m_progress.set_state(j.index, BlobState::waiting_lock, "another blob of this fetch with the same path");
        }
        j.next_lock_try = now + kRetryEvery;
        return;
    }
    if (j.phase == Phase::locking) std::erase(m_waiting, &j);
    j.owns_path = true;  // from now on the only blob of this run on its path
    m_busy_paths.insert(j.path_key);
    if (!m_options.locking) {
        use_private_files(j);
        return m_client.unlocked(j);
    }
    auto &slot = m_dirs[j.dir_key];
    if (!slot) {
        slot = std::make_shared<DirEntry>();
        slot->rel_dir = j.paths.rel_dir;
        slot->key = j.dir_key;
    }
    auto entry = slot;
    // Until its first attempt tells, the blob keeps its active slot (so that
    // at most the active blobs hold directories and locks open); behind a
    // lock another process holds, it waits without one.
    j.phase = Phase::locking;
    j.lock_attempts = 0;
    entry->waiters.push_back(&j);
    if (!entry->attempt_running) launch_attempt(entry);
}

void LockCoordinator::tick(Clock::time_point now, Clock::time_point &wake) {
    for (Job *j : std::vector<Job *>(m_waiting)) {  // the same path as another blob of this fetch
        if (j->next_lock_try <= now) request(*j, now);
        if (j->phase == Phase::locking) wake = std::min(wake, j->next_lock_try);
    }
    // One attempt per busy directory, however many blobs wait for it.
    for (auto it = m_dirs.begin(); it != m_dirs.end();) {
        auto entry = it++->second;  // (the entry may go below)
        if (entry->attempt_running) continue;
        if (entry->deferred) {
            launch_attempt(entry);  // an attempt that waited for room
            continue;
        }
        if (!entry->retrying) continue;
        for (Job *j : std::vector<Job *>(entry->waiters))
            if (!j->lock_holder.empty() && now - j->lock_since >= m_options.lock_timeout) timed_out(*j, *entry);
        if (entry->waiters.empty()) {
            forget_dir(entry);
            continue;
        }
        if (entry->next_try <= now) launch_attempt(entry);
        else wake = std::min(wake, entry->next_try);
    }
}

void LockCoordinator::withdraw(Job &j) {
    std::erase(m_waiting, &j);
    if (auto it = m_dirs.find(j.dir_key); it != m_dirs.end()) {
        auto entry = it->second;
        std::erase(entry->waiters, &j);
        forget_dir(entry);
    }
}

void LockCoordinator::release(Job &j, bool lock_file_replaced) {
    if (j.owns_path) {
        m_busy_paths.erase(j.path_key);
        j.owns_path = false;
    }
    j.blob_lock.reset();
    if (!j.dir_entry) return;
    auto it = m_dirs.find(j.dir_key);
    if (it != m_dirs.end() && it->second.get() == j.dir_entry) {
        auto entry = it->second;
        --entry->users;
        if (lock_file_replaced) entry->file.reset();
        forget_dir(entry);
    }
    j.dir_entry = nullptr;
}

void LockCoordinator::join_held(Job &j, DirEntry &entry) {
    ++entry.users;
    j.dir_entry = &entry;
    j.paths.dir = entry.dir;
    j.lock_holder.clear();
    if (!j.blob_lock->enforced()) use_private_files(j);
    m_client.held(j);
}

// One attempt, by the runner, at the locks of every blob that wants one in
// the directory.
void LockCoordinator::launch_attempt(const std::shared_ptr<DirEntry> &entry) {
    if (!entry->open_slot) {
        if (m_open_dirs >= m_options.max_open_dirs) {
            entry->deferred = true;  // tick() tries again once a directory is closed
            return;
        }
        entry->open_slot = true;
        ++m_open_dirs;
    }
    entry->deferred = false;
    entry->retrying = false;
    entry->attempt_running = true;
    std::vector<Job *> batch = entry->waiters;
    LockAttempt attempt{entry->rel_dir, entry->dir, entry->file, {}};
    attempt.names.reserve(batch.size());
    for (Job *j : batch) {
        ++j->lock_attempts;
        attempt.names.push_back(j->paths.final_name);
    }
    m_runner(std::move(attempt), [this, entry, batch = std::move(batch)](Expected<LockAttemptResult> r) {
        entry->attempt_running = false;
        on_attempt(entry, batch, std::move(r));
    });
}

void LockCoordinator::on_attempt(const std::shared_ptr<DirEntry> &entry, const std::vector<Job *> &batch,
                                 Expected<LockAttemptResult> r) {
    const auto now = Clock::now();
    if (!r) {
        for (Job *j : std::vector<Job *>(entry->waiters)) m_client.failed(*j, r.status());
        forget_dir(entry);
        return;
    }
    entry->dir = std::move(r->dir);
    entry->file = std::move(r->file);
    entry->shown = entry->dir->path().string();
    if (!entry->file->enforced() && !entry->warned) {
        entry->warned = true;
        m_log.warn("no lock can be shared in '" + entry->shown + "': " + entry->file->why_not_enforced() +
                   "; downloads there use private temporary files and are not resumed across processes");
    }
    std::vector<Job *> now_waiting;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        Job &j = *batch[i];
        // (A blob finished meanwhile, e.g. cancelled: a lock just taken goes.)
        if (std::find(entry->waiters.begin(), entry->waiters.end(), &j) == entry->waiters.end()) continue;
        BlobAttempt &a = r->results[i];
        if (a.lock) {
            std::erase(entry->waiters, &j);
            j.blob_lock = std::move(a.lock);
            join_held(j, *entry);
            continue;
        }
        const bool first = j.lock_holder.empty();
        j.lock_holder = describe_holder(a.holder);
        if (first) {
            j.lock_since = now;
            j.phase = Phase::locking;
            m_client.waiting(j);
            now_waiting.push_back(&j);
        }
        m_progress.set_state(j.index, BlobState::waiting_lock, "held by " + j.lock_holder);
    }
    if (!now_waiting.empty()) {
        const Job &first = *now_waiting.front();
        const std::size_t more = now_waiting.size() - 1;
        m_log.info("waiting for '" + first.spec->path + "'" +
                   (more ? " and " + std::to_string(more) + " more blob(s) of '" + entry->shown + "'"
                         : std::string()) +
                   ", held by " + first.lock_holder + "; lock file '" +
                   (std::filesystem::path(entry->shown) / kLockFileName).string() + "'");
    }
    // A directory where nothing is held keeps no descriptor open (thousands
    // may wait).
    if (entry->users == 0) close_dir(*entry);
    if (entry->waiters.empty()) return forget_dir(entry);
    const bool untried =
        std::any_of(entry->waiters.begin(), entry->waiters.end(), [](const Job *j) { return j->lock_attempts == 0; });
    if (untried) return launch_attempt(entry);  // blobs that came while the attempt ran
    entry->retrying = true;
    entry->next_try = now + kRetryEvery;
}

void LockCoordinator::timed_out(Job &j, DirEntry &entry) {
    const std::string file =
        (std::filesystem::path(entry.shown.empty() ? entry.rel_dir : entry.shown) / kLockFileName).string();
    m_client.failed(j, Status(Errc::lock_timeout,
                              "'" + j.spec->path + "': timed out after " +
                                  std::to_string(m_options.lock_timeout.count()) + " ms waiting for it, held by " +
                                  j.lock_holder + " (lock file '" + file +
                                  "'); if that process is stuck, stop it (its lock goes with it) or raise "
                                  "lock_timeout_ms"));
}

void LockCoordinator::close_dir(DirEntry &entry) {
    entry.file.reset();
    entry.dir.reset();
    if (entry.open_slot) {
        entry.open_slot = false;
        --m_open_dirs;
    }
}

// Drops a directory nobody uses or waits for (closing it); an attempt still
// running finds it forgotten.
void LockCoordinator::forget_dir(const std::shared_ptr<DirEntry> &entry) {
    if (!entry->waiters.empty() || entry->users > 0 || entry->attempt_running) return;
    auto it = m_dirs.find(entry->key);
    if (it != m_dirs.end() && it->second == entry) m_dirs.erase(it);
    close_dir(*entry);
}

}  // namespace blobfetch::detail
