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
    if (!verify_hash || (spec.sha256.empty() && spec.sha512.empty())) return true;
    const bool use256 = !spec.sha256.empty();
    auto actual = hash_file(file, use256 ? Digest::Algorithm::sha256 : Digest::Algorithm::sha512, cancel);
    if (!actual) return actual.status();
    return *actual == (use256 ? spec.sha256 : spec.sha512);
}

}  // namespace blobfetch
