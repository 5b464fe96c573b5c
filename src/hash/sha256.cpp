#include "hash/sha256.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "io/file.h"

namespace blobfetch {
namespace {

EVP_MD_CTX *ctx_of(void *p) { return static_cast<EVP_MD_CTX *>(p); }

}  // namespace

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_of(m_ctx), EVP_sha256(), nullptr); }

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_of(m_ctx)); }

Sha256::Sha256(Sha256 &&other) noexcept : m_ctx(std::exchange(other.m_ctx, nullptr)) {}

Sha256 &Sha256::operator=(Sha256 &&other) noexcept {
    if (this != &other) {
        EVP_MD_CTX_free(ctx_of(m_ctx));
        m_ctx = std::exchange(other.m_ctx, nullptr);
    }
    return *this;
}

void Sha256::update(const void *data, std::size_t len) {
    if (len) EVP_DigestUpdate(ctx_of(m_ctx), data, len);
}

std::string Sha256::finish_hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_of(m_ctx), md, &n);
    EVP_DigestInit_ex(ctx_of(m_ctx), EVP_sha256(), nullptr);
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * n);
    for (unsigned i = 0; i < n; ++i) {
        hex.push_back(digits[md[i] >> 4]);
        hex.push_back(digits[md[i] & 15]);
    }
    return hex;
}

bool is_sha256_hex(std::string_view hex) {
    if (hex.size() != 64) return false;
    for (char c : hex)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    return true;
}

std::string lower_hex(std::string_view hex) {
    std::string s(hex);
    for (char &c : s)
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

Expected<std::string> sha256_file(const std::filesystem::path &path, const CancellationToken &cancel) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Status(Errc::io, "cannot open '" + path.string() + "' to hash it: " + std::strerror(errno));
    Sha256 hash;
    auto buf = std::make_unique<char[]>(1 << 20);
    for (;;) {
        if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while hashing '" + path.string() + "'");
        ssize_t n = ::read(fd.get(), buf.get(), 1 << 20);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status(Errc::io, "cannot read '" + path.string() + "': " + std::strerror(errno));
        if (n == 0) break;
        hash.update(buf.get(), static_cast<std::size_t>(n));
    }
    return hash.finish_hex();
}

}  // namespace blobfetch
