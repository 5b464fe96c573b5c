#include "download/cache_check.h"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>

#include "hash/sha256.h"

namespace blobfetch {

Expected<bool> is_cached(const std::filesystem::path &file, const BlobSpec &spec, bool verify_hash,
                         const CancellationToken &cancel) {
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return false;
        return Status(Errc::io, "cannot inspect cached file '" + file.string() + "': " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return false;  // a directory or link is never a finished blob
    if (spec.size >= 0 && st.st_size != spec.size) return false;
    if (spec.sha256.empty() || !verify_hash) return true;
    auto actual = sha256_file(file, cancel);
    if (!actual) return actual.status();
    return *actual == spec.sha256;
}

}  // namespace blobfetch
