// POSIX (open, poll for pipes); the Windows copy is local_copy_win32.cpp.
#ifndef _WIN32
#include "download/local_copy.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path_safety.h"
#include "io/file.h"

namespace blobfetch {
namespace {

constexpr std::size_t kPiece = 1 << 20;

}  // namespace

Expected<std::int64_t> copy_local_file(std::string_view url, const std::string &shown, IPositionalWriter &out,
                                       std::int64_t expected_size, std::int64_t max_size,
                                       const CancellationToken &cancel,
                                       const std::function<void(std::int64_t)> &on_bytes) {
    const auto path = file_url_path(url);
    if (!path)
        return Status(Errc::invalid_argument,
                      "'" + shown + "' is not a local file URL (file:///absolute/path or file://localhost/...)");
    // O_NONBLOCK: a pipe with no writer must not hang the open (nor a read:
    // see the poll below); it has no effect on regular files.
    UniqueFd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd) {
        const int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return Status(Errc::not_found, shown + ": no such file: the source does not have this blob");
        return Status(Errc::io, "cannot open '" + *path + "' (from " + shown + "): " + std::strerror(e));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return Status(Errc::io, "cannot inspect '" + *path + "': " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        return Status(Errc::not_found, shown + " is a directory: the source does not have this blob");
    const bool regular = S_ISREG(st.st_mode);
    if (regular && expected_size >= 0 && st.st_size != expected_size)
        return Status(Errc::verify, shown + " has " + std::to_string(st.st_size) + " bytes but the blob should have " +
                                        std::to_string(expected_size) +
                                        ": the source holds a different file; nothing was published");
    const std::int64_t limit = expected_size >= 0 ? expected_size : max_size;
    if (regular && st.st_size > limit)
        return Status(Errc::verify, shown + " has " + std::to_string(st.st_size) + " bytes, more than max_blob_size (" +
                                        std::to_string(max_size) +
                                        "); nothing was written (raise max_blob_size if it is right)");

    auto buf = std::make_unique<char[]>(kPiece);
    std::int64_t copied = 0;
    for (;;) {
        if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while copying " + shown);
        const ssize_t n = ::read(fd.get(), buf.get(), kPiece);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd.get(), POLLIN, 0};
            (void)::poll(&p, 1, 100);  // nothing to read yet: look at the cancellation again in 100 ms
            continue;
        }
        if (n < 0) return Status(Errc::io, "cannot read '" + *path + "' (from " + shown + "): " + std::strerror(errno));
        if (n == 0) {
            if (expected_size >= 0 && copied != expected_size)
                return Status(Errc::verify, shown + " delivered " + std::to_string(copied) + " bytes but the blob should have " +
                                                std::to_string(expected_size) +
                                                ": the source holds a different file; nothing was published");
            break;
        }
        if (static_cast<std::int64_t>(n) > limit - copied) {
            return Status(Errc::verify, shown + " holds more than the " + std::to_string(limit) + " bytes " +
                                            (expected_size >= 0 ? "the blob should have" : "of max_blob_size") +
                                            "; nothing was published");
        }
        if (Status s = out.write_at(buf.get(), static_cast<std::size_t>(n), copied); !s.ok()) return s;
        copied += n;
        if (on_bytes) on_bytes(n);
    }
    return copied;
}

}  // namespace blobfetch
#endif  // !_WIN32
