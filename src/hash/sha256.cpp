// The portable part of hashing: hex helpers and whole files. The digests
// themselves are digest_openssl.cpp (POSIX) and digest_cng.cpp (Windows).
#include "hash/sha256.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>

#include "io/file.h"

namespace blobfetch {
namespace {
bool is_hex_of(std::string_view hex, std::size_t digits) {
    if (hex.size() != digits) return false;
    for (char c : hex)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    return true;
}
}  // namespace

bool is_sha256_hex(std::string_view hex) { return is_hex_of(hex, 64); }
bool is_sha512_hex(std::string_view hex) { return is_hex_of(hex, 128); }

std::string lower_hex(std::string_view hex) {
    std::string s(hex);
    for (char &c : s)
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

Expected<std::string> sha256_file(const std::filesystem::path &path, const CancellationToken &cancel) {
    return hash_file(path, Digest::Algorithm::sha256, cancel);
}

Expected<std::string> hash_file(const std::filesystem::path &path, Digest::Algorithm algorithm,
                                const CancellationToken &cancel) {
    UniqueFd fd = open_for_reading(path);  // (a FIFO must not hang)
    if (!fd) return Status(Errc::io, "cannot open '" + path_to_utf8(path) + "' to hash it: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(Errc::io, "cannot hash '" + path_to_utf8(path) + "': not a regular file");
    return hash_fd(fd.get(), algorithm, path_to_utf8(path), cancel);
}

Expected<std::string> hash_fd(int fd, Digest::Algorithm algorithm, const std::string &name,
                              const CancellationToken &cancel) {
    Digest hash(algorithm);
    thread_local std::unique_ptr<char[]> buf(new char[1 << 20]);
    for (std::int64_t offset = 0;;) {
        if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while hashing '" + name + "'");
        auto n = read_at_most(fd, buf.get(), 1 << 20, offset, name);
        if (!n) return n.status();
        if (*n == 0) break;
        hash.update(buf.get(), *n);
        offset += static_cast<std::int64_t>(*n);
    }
    return hash.finish_hex();
}

}  // namespace blobfetch
