#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "base/path_safety.h"
#include "download/blob_downloader.h"
#include "hash/sha256.h"
#include "io/file.h"

namespace blobfetch {
namespace {

// Removes a temporary file unless it was published.
class TempFileGuard {
public:
    explicit TempFileGuard(std::filesystem::path p) : m_path(std::move(p)) {}
    ~TempFileGuard() {
        if (!m_released) ::unlink(m_path.c_str());
    }
    TempFileGuard(const TempFileGuard &) = delete;
    TempFileGuard &operator=(const TempFileGuard &) = delete;
    void release() { m_released = true; }

private:
    std::filesystem::path m_path;
    bool m_released = false;
};

std::filesystem::path temp_path_for(const std::filesystem::path &final_path) {
    static std::atomic<unsigned> counter{0};
    return final_path.parent_path() / (final_path.filename().string() + ".blobfetch-" + std::to_string(::getpid()) +
                                       "-" + std::to_string(counter.fetch_add(1)) + ".tmp");
}

// Streams one response into the temporary file, hashing as it goes.
class FileSink final : public IBodySink {
public:
    FileSink(int fd, const BlobSpec &spec, std::string shown_url, std::size_t index, FetchProgress &progress,
             std::string file_name)
        : m_fd(fd), m_spec(spec), m_url(std::move(shown_url)), m_index(index), m_progress(progress),
          m_file(std::move(file_name)) {}

    Status on_response(const ResponseHead &head) override {
        if (m_spec.size >= 0 && head.content_length >= 0 && head.content_length != m_spec.size)
            return Status(Errc::verify, m_url + " announced " + std::to_string(head.content_length) +
                                            " bytes but blob '" + m_spec.path + "' should have " +
                                            std::to_string(m_spec.size) +
                                            ": the source holds a different file; nothing was published");
        return Status::success();
    }

    Status on_body(const char *data, std::size_t len) override {
        if (m_spec.size >= 0 && m_written + static_cast<std::int64_t>(len) > m_spec.size)
            return Status(Errc::verify, m_url + " sent more than the expected " + std::to_string(m_spec.size) +
                                            " bytes for blob '" + m_spec.path + "'; nothing was published");
        if (Status s = write_all_at(m_fd, data, len, m_written, m_file); !s.ok()) return s;
        m_hash.update(data, len);
        m_written += static_cast<std::int64_t>(len);
        m_progress.add_bytes(m_index, static_cast<std::int64_t>(len));
        return Status::success();
    }

    std::int64_t written() const { return m_written; }
    std::string finish_hash() { return m_hash.finish_hex(); }

private:
    int m_fd;
    const BlobSpec &m_spec;
    std::string m_url;
    std::size_t m_index;
    FetchProgress &m_progress;
    std::string m_file;
    Sha256 m_hash;
    std::int64_t m_written = 0;
};

class StreamBlobDownloader final : public IBlobDownloader {
public:
    explicit StreamBlobDownloader(BlobDownloadOptions options) : m_options(std::move(options)) {}

    BlobOutcome download(const BlobSpec &spec, std::size_t index, const std::filesystem::path &final_path,
                         ITransport &transport, FetchProgress &progress, const CancellationToken &cancel,
                         const Logger &log) override {
        BlobOutcome out;
        const std::string shown = redact_url(spec.url);
        if (Status s = ensure_directory(final_path.parent_path()); !s.ok()) {
            out.status = s;
            return out;
        }
        const std::filesystem::path tmp = temp_path_for(final_path);
        UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
        if (!fd) {
            out.status = Status(Errc::io, "cannot create temporary file '" + tmp.string() + "': " +
                                              std::strerror(errno) + "; check that the cache directory is writable");
            return out;
        }
        TempFileGuard guard(tmp);

        HttpRequest request{spec.url, spec.headers, -1, -1, {}};
        for (int attempt = 0;; ++attempt) {
            if (attempt > 0) {
                progress.reset_bytes(index);
                if (::ftruncate(fd.get(), 0) != 0) {
                    out.status = Status(Errc::io, "cannot truncate '" + tmp.string() + "': " + std::strerror(errno));
                    return out;
                }
            }
            FileSink sink(fd.get(), spec, shown, index, progress, tmp.string());
            progress.set_state(index, BlobState::downloading);
            TransferOutcome t = transport.perform(request, sink, cancel);
            out.bytes_downloaded += t.body_bytes;
            if (t.status.ok()) {
                out.status = finish(spec, sink, fd, tmp, final_path, shown, progress, index, guard);
                return out;
            }
            if (!t.retryable || attempt >= m_options.retry.max_retries || cancel.cancelled()) {
                out.status = t.status;
                if (t.retryable && attempt > 0)
                    out.status = Status(t.status.code(), t.status.message() + " (gave up after " +
                                                             std::to_string(attempt + 1) + " attempts)");
                return out;
            }
            auto wait = m_options.retry.delay(attempt + 1, t.head.retry_after);
            log.warn(t.status.message() + "; retrying in " + std::to_string(wait.count()) + " ms (attempt " +
                     std::to_string(attempt + 2) + " of " + std::to_string(m_options.retry.max_retries + 1) + ")");
            if (cancel.wait_for(wait)) {
                out.status = Status(Errc::cancelled, "cancelled while waiting to retry " + shown);
                return out;
            }
        }
    }

private:
    Status finish(const BlobSpec &spec, FileSink &sink, UniqueFd &fd, const std::filesystem::path &tmp,
                  const std::filesystem::path &final_path, const std::string &shown, FetchProgress &progress,
                  std::size_t index, TempFileGuard &guard) {
        progress.set_state(index, BlobState::verifying);
        if (spec.size >= 0 && sink.written() != spec.size)
            return Status(Errc::verify, shown + " sent " + std::to_string(sink.written()) + " bytes for blob '" +
                                            spec.path + "' but " + std::to_string(spec.size) +
                                            " were expected (truncated body); nothing was published");
        std::string actual = sink.finish_hash();
        if (!spec.sha256.empty() && actual != spec.sha256)
            return Status(Errc::verify, "SHA-256 mismatch for blob '" + spec.path + "' from " + shown +
                                            ": expected " + spec.sha256 + ", got " + actual +
                                            "; the source holds different bytes than the descriptor says, "
                                            "nothing was published");
        if (m_options.durable) {
            if (Status s = sync_data(fd.get(), tmp.string()); !s.ok()) return s;
        }
        fd.reset();
        if (Status s = publish_file(tmp, final_path); !s.ok()) return s;
        guard.release();
        return Status::success();
    }

    BlobDownloadOptions m_options;
};

}  // namespace

std::unique_ptr<IBlobDownloader> make_stream_blob_downloader(BlobDownloadOptions options) {
    return std::make_unique<StreamBlobDownloader>(std::move(options));
}

}  // namespace blobfetch
