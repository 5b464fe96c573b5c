#include "download/blob_set_fetcher.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>

#include "base/path_safety.h"
#include "download/cache_check.h"
#include "download/descriptor_conflicts.h"
#include "download/download_engine.h"

namespace blobfetch {
namespace {

TransportOptions transport_options(const config::ProviderOptions &o) {
    TransportOptions t;
    t.connect_timeout = std::chrono::milliseconds(o.connect_timeout_ms);
    t.stall_timeout = std::chrono::milliseconds(o.stall_timeout_ms);
    t.stall_min_speed = o.stall_min_speed;
    t.error_body_limit = o.error_body_limit;
    t.error_body_timeout = std::chrono::milliseconds(o.error_body_timeout_ms);
    t.ca_file = o.ca_file;
    t.user_agent = o.user_agent;
    return t;
}

// Runs fn(i) for i in [0, n) on up to `threads` threads.
void parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)> &fn) {
    threads = std::min(threads, n);
    if (threads <= 1) {
        for (std::size_t i = 0; i < n; ++i) fn(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (std::size_t i; (i = next.fetch_add(1)) < n;) {
                try {
                    fn(i);
                } catch (...) {
                    // The item keeps its "not processed" failure.
                }
            }
        });
    for (auto &th : pool) th.join();
}

}  // namespace

BlobSetFetcher::BlobSetFetcher(config::ProviderOptions options)
    : m_options(std::move(options)),
      m_loop(transport_options(m_options), static_cast<std::size_t>(std::max(1, m_options.concurrency))) {}

void BlobSetFetcher::run_phases(const std::filesystem::path &cache_dir, const std::vector<BlobSpec> &specs,
                                FetchResult &result, FetchProgress &progress, const CancellationToken &token,
                                const Logger &log) {
    // Phase 1: skip what is already complete (stat, then hash), so the
    // first progress report already credits cached bytes. Directories are
    // opened beneath the cache root once each, never following a link.
    DirCache dirs(cache_dir);
    // Phase 0: a descriptor whose path names the same file as an earlier
    // one's while describing another blob (or, on Windows, spelling the path
    // in another case) fails here, before anything is looked at or written
    // for it; the earlier one proceeds.
    const std::vector<std::size_t> collides = descriptor_conflicts(specs);
    for (std::size_t i = 0; i < specs.size(); ++i) {
        if (collides[i] == specs.size()) continue;
        result.blobs[i].status = descriptor_conflict_error(specs[i], specs[collides[i]]);
        log.error(result.blobs[i].status.message());
        progress.set_state(i, BlobState::failed);
    }
    std::vector<std::size_t> to_download;
    std::mutex list_mutex;
    const std::size_t hash_threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    parallel_for(specs.size(), hash_threads, [&](std::size_t i) {
        const BlobSpec &spec = specs[i];
        if (collides[i] != specs.size()) return;
        auto download = [&] {
            std::lock_guard lock(list_mutex);
            to_download.push_back(i);
        };
        auto dir = dirs.get(relative_dir_of(spec.path), /*create=*/false);
        if (!dir && dir.status().code() == Errc::not_found) return download();  // nothing there yet
        if (!dir) {
            log.error(dir.message());
            result.blobs[i].status = dir.status().code() == Errc::unsafe_path
                                         ? Status(Errc::unsafe_path, "blob '" + spec.path + "': " + dir.message())
                                         : dir.status();
            progress.set_state(i, BlobState::failed);
            return;
        }
        auto cached = cached_size(**dir, file_name_of(spec.path), spec, m_options.verify_cached_hash, token);
        if (cached.ok() && *cached >= 0) {
            result.blobs[i].bytes_skipped = *cached;
            result.blobs[i].status = Status::success();
            result.blobs[i].skipped = true;
            if (spec.size < 0) progress.set_size(i, *cached);
            progress.add_bytes(i, *cached);
            progress.set_state(i, BlobState::skipped);
            return;
        }
        if (!cached.ok() && cached.status().code() != Errc::cancelled)
            log.warn(cached.message() + "; downloading it again");
        download();
    });
    std::sort(to_download.begin(), to_download.end());

    // Phase 2: the chunked engine, at most `concurrency` transfers at once.
    EngineOptions e;
    e.chunk_size = m_options.chunk_size;
    e.retry.max_retries = m_options.retries;
    e.durable = m_options.durability != "relaxed";
    e.locking = m_options.locking;
    e.lock_timeout = std::chrono::milliseconds(m_options.lock_timeout_ms);
    e.fail_fast = m_options.fail_fast;
    e.verify_cached_hash = m_options.verify_cached_hash;
    e.max_blob_size = m_options.max_blob_size;
    e.min_free_space = m_options.min_free_space;
    DownloadEngine(e, m_loop).run(dirs, specs, to_download, result.blobs, progress, token, log);
}

FetchResult BlobSetFetcher::fetch(const std::filesystem::path &cache_dir, const std::vector<BlobSpec> &specs,
                                  const ProgressFn &progress_fn, const Logger &log) {
    FetchResult result;
    result.blobs.resize(specs.size());
    // A blob nothing reported on is a failure, never a silent success.
    for (auto &b : result.blobs) b.status = Status(Errc::internal, "internal error: the blob was not processed");
    std::vector<std::int64_t> sizes;
    sizes.reserve(specs.size());
    for (const auto &s : specs) sizes.push_back(s.size);
    FetchProgress progress(sizes);
    CancellationSource cancel;

    std::mutex done_mutex;
    std::condition_variable done_cv;
    bool done = false;

    // All work runs on this thread; the calling thread only reports progress.
    std::thread runner([&] {
        try {
            run_phases(cache_dir, specs, result, progress, cancel.token(), log);
        } catch (const std::exception &e) {
            log.error(std::string("internal error during the fetch: ") + e.what());
        } catch (...) {
            log.error("internal error during the fetch");
        }
        std::lock_guard lock(done_mutex);
        done = true;
        done_cv.notify_all();
    });

    // Report progress from this thread at about 10 Hz until the work is done.
    // A progress callback that throws (it must not) cancels the fetch: the
    // worker is always joined before this function returns or unwinds.
    bool cancelled = false;
    std::string callback_threw;
    for (;;) {
        bool finished;
        {
            std::unique_lock lock(done_mutex);
            finished = done_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; });
        }
        bool stop = false;
        if (callback_threw.empty()) {
            try {
                stop = progress.emit(progress_fn);
            } catch (const std::exception &e) {
                callback_threw = std::string("the host's progress callback threw an exception (") + e.what() + ")";
            } catch (...) {
                callback_threw = "the host's progress callback threw an exception";
            }
            if (!callback_threw.empty()) {
                log.error(callback_threw + "; the fetch is cancelled, completed work is kept for the next run");
                cancel.cancel();
            }
        }
        if (stop && !cancelled) {
            cancelled = true;
            log.info("fetch cancelled by the host; completed work is kept for the next run");
            cancel.cancel();
        }
        if (finished) break;
    }
    runner.join();
    if (!callback_threw.empty()) {
        result.status = Status(Errc::internal, callback_threw + "; the fetch was cancelled (callbacks must return "
                                                                "normally)");
        return result;
    }

    std::size_t failed = 0;
    for (const auto &b : result.blobs)
        if (!b.status.ok()) ++failed;
    if (cancelled)
        result.status = Status(Errc::cancelled, "the fetch was cancelled");
    else if (failed)
        result.status = Status(Errc::partial, std::to_string(failed) + " of " + std::to_string(specs.size()) +
                                                  " blobs failed");
    return result;
}

}  // namespace blobfetch
