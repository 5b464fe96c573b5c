// SHA-256/512 through Windows' CNG (BCryptCreateHash/BCryptHashData): the
// Windows digests of sha256.h. POSIX uses libcrypto (digest_openssl.cpp).
#ifdef _WIN32
#include <windows.h>

#include <bcrypt.h>

#include <cstdlib>
#include <utility>

#include "hash/sha256.h"

namespace blobfetch {
namespace {

// The algorithm providers, opened once per process (thread-safe to share).
BCRYPT_ALG_HANDLE provider(Digest::Algorithm a) {
    static const BCRYPT_ALG_HANDLE sha256 = [] {
        BCRYPT_ALG_HANDLE h = nullptr;
        return BCryptOpenAlgorithmProvider(&h, BCRYPT_SHA256_ALGORITHM, nullptr, 0) >= 0 ? h : nullptr;
    }();
    static const BCRYPT_ALG_HANDLE sha512 = [] {
        BCRYPT_ALG_HANDLE h = nullptr;
        return BCryptOpenAlgorithmProvider(&h, BCRYPT_SHA512_ALGORITHM, nullptr, 0) >= 0 ? h : nullptr;
    }();
    return a == Digest::Algorithm::sha512 ? sha512 : sha256;
}

void *start(Digest::Algorithm a) {
    BCRYPT_HASH_HANDLE h = nullptr;
    // (CNG allocates the hash object itself when given none.)
    if (BCryptCreateHash(provider(a), &h, nullptr, 0, nullptr, 0, 0) < 0) {
        // No provider: nothing can be verified, and silently wrong is worse.
        std::abort();
    }
    return h;
}

void stop(void *ctx) {
    if (ctx) BCryptDestroyHash(static_cast<BCRYPT_HASH_HANDLE>(ctx));
}

}  // namespace

Digest::Digest(Algorithm algorithm) : m_ctx(start(algorithm)), m_algorithm(algorithm) {}

Digest::~Digest() { stop(m_ctx); }

Digest::Digest(Digest &&other) noexcept
    : m_ctx(std::exchange(other.m_ctx, nullptr)), m_algorithm(other.m_algorithm) {}

Digest &Digest::operator=(Digest &&other) noexcept {
    if (this != &other) {
        stop(m_ctx);
        m_ctx = std::exchange(other.m_ctx, nullptr);
        m_algorithm = other.m_algorithm;
    }
    return *this;
}

void Digest::update(const void *data, std::size_t len) {
    auto *p = static_cast<unsigned char *>(const_cast<void *>(data));  // (CNG's signature; it does not write)
    while (len > 0) {
        const ULONG piece = static_cast<ULONG>(len > (1u << 30) ? (1u << 30) : len);
        BCryptHashData(static_cast<BCRYPT_HASH_HANDLE>(m_ctx), p, piece, 0);
        p += piece;
        len -= piece;
    }
}

std::string Digest::finish_hex() {
    unsigned char md[64];
    const ULONG n = m_algorithm == Algorithm::sha512 ? 64 : 32;
    BCryptFinishHash(static_cast<BCRYPT_HASH_HANDLE>(m_ctx), md, n, 0);
    stop(m_ctx);
    m_ctx = start(m_algorithm);  // reusable, as the contract says
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * n);
    for (ULONG i = 0; i < n; ++i) {
        hex.push_back(digits[md[i] >> 4]);
        hex.push_back(digits[md[i] & 15]);
    }
    return hex;
}

}  // namespace blobfetch
#endif  // _WIN32
