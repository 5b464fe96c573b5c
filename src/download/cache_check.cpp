#include "download/cache_check.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>

#include "hash/sha256.h"
#include "io/dir_handle.h"

namespace blobfetch {

Expected<std::int64_t> cached_size(const DirHandle &dir, std::string_view name, const BlobSpec &spec,
                                   bool verify_hash, const CancellationToken &cancel) {
    struct stat st {};
    if (const int e = dir.stat(name, st); e != 0) {
        if (e == ENOENT || e == ENOTDIR) return std::int64_t{-1};
        return Status(Errc::io, "cannot inspect cached file '" + dir.show(name).string() + "': " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) return std::int64_t{-1};  // a directory or link is never a finished blob
    if (spec.size >= 0 && st.st_size != spec.size) return std::int64_t{-1};
    const auto size = static_cast<std::int64_t>(st.st_size);
    if (!verify_hash || !spec.pinned()) return size;
    const bool use256 = !spec.sha256.empty();
    UniqueFd fd = dir.open(name, O_RDONLY | O_NONBLOCK);
    if (!fd) {
        if (errno == ENOENT) return std::int64_t{-1};
        return Status(Errc::io, "cannot open cached file '" + dir.show(name).string() + "' to hash it: " +
                                    std::strerror(errno));
    }
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::int64_t{-1};  // replaced meanwhile
    auto actual = hash_fd(fd.get(), use256 ? Digest::Algorithm::sha256 : Digest::Algorithm::sha512,
                          dir.show(name).string(), cancel);
    if (!actual) return actual.status();
    return *actual == (use256 ? spec.sha256 : spec.sha512) ? static_cast<std::int64_t>(st.st_size) : std::int64_t{-1};
}

}  // namespace blobfetch
