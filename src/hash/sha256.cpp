#include "hash/sha256.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "io/file.h"

namespace blobfetch {
namespace {

EVP_MD_CTX *ctx_of(void *p) { return static_cast<EVP_MD_CTX *>(p); }

}  // namespace

namespace {
const EVP_MD *md_of(Digest::Algorithm a) { return a == Digest::Algorithm::sha512 ? EVP_sha512() : EVP_sha256(); }
}  // namespace

Digest::Digest(Algorithm algorithm) : m_ctx(EVP_MD_CTX_new()), m_algorithm(algorithm) {
    EVP_DigestInit_ex(ctx_of(m_ctx), md_of(m_algorithm), nullptr);
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_of(m_ctx)); }

Digest::Digest(Digest &&other) noexcept
    : m_ctx(std::exchange(other.m_ctx, nullptr)), m_algorithm(other.m_algorithm) {}

Digest &Digest::operator=(Digest &&other) noexcept {
    if (this != &other) {
        EVP_MD_CTX_free(ctx_of(m_ctx));
        m_ctx = std::exchange(other.m_ctx, nullptr);
        m_algorithm = other.m_algorithm;
    }
    return *this;
}

void Digest::update(const void *data, std::size_t len) {
    if (len) EVP_DigestUpdate(ctx_of(m_ctx), data, len);
}

std::string Digest::finish_hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_of(m_ctx), md, &n);
    EVP_DigestInit_ex(ctx_of(m_ctx), md_of(m_algorithm), nullptr);
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * n);
    for (unsigned i = 0; i < n; ++i) {
        hex.push_back(digits[md[i] >> 4]);
        hex.push_back(digits[md[i] & 15]);
    }
    return hex;
}

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
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));  // a FIFO must not hang
    if (!fd) return Status(Errc::io, "cannot open '" + path.string() + "' to hash it: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(Errc::io, "cannot hash '" + path.string() + "': not a regular file");
    return hash_fd(fd.get(), algorithm, path.string(), cancel);
}

Expected<std::string> hash_fd(int fd, Digest::Algorithm algorithm, const std::string &name,
                              const CancellationToken &cancel) {
    Digest hash(algorithm);
    thread_local std::unique_ptr<char[]> buf(new char[1 << 20]);
    for (std::int64_t offset = 0;;) {
        if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while hashing '" + name + "'");
        const ssize_t n = ::pread(fd, buf.get(), 1 << 20, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status(Errc::io, "cannot read '" + name + "': " + std::strerror(errno));
        if (n == 0) break;
        hash.update(buf.get(), static_cast<std::size_t>(n));
        offset += n;
    }
    return hash.finish_hex();
}

}  // namespace blobfetch
