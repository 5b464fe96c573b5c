// SHA-256/512 through OpenSSL's libcrypto (SHA-NI where the CPU has it): the
// POSIX digests of sha256.h. Windows uses CNG (digest_cng.cpp).
#ifndef _WIN32
#include <utility>

#include <openssl/evp.h>

#include "hash/sha256.h"

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

}  // namespace blobfetch
#endif  // !_WIN32
