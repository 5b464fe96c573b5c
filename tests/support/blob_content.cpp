#include "support/blob_content.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#ifdef _WIN32
// (No OpenSSL on Windows: the tests' hashes come from CNG there, through
// blobfetch's Digest, whose known-answer tests are hash/sha256_test.cpp.)
#include "hash/sha256.h"
#else
#include <openssl/evp.h>
#endif

namespace blobfetch::test {
namespace {

std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

[[maybe_unused]] std::string to_hex(const unsigned char *d, unsigned n) {
    static const char *digits = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < n; ++i) {
        s.push_back(digits[d[i] >> 4]);
        s.push_back(digits[d[i] & 15]);
    }
    return s;
}

#ifdef _WIN32
#define EVP_sha256() ::blobfetch::Digest::Algorithm::sha256
#define EVP_sha512() ::blobfetch::Digest::Algorithm::sha512
struct Hasher {
    ::blobfetch::Digest digest;
    explicit Hasher(::blobfetch::Digest::Algorithm a = ::blobfetch::Digest::Algorithm::sha256) : digest(a) {}
    void update(const void *d, std::size_t n) { digest.update(d, n); }
    std::string hex() { return digest.finish_hex(); }
};
#else
struct Hasher {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    explicit Hasher(const EVP_MD *md = EVP_sha256()) { EVP_DigestInit_ex(ctx, md, nullptr); }
    ~Hasher() { EVP_MD_CTX_free(ctx); }
    void update(const void *d, std::size_t n) { EVP_DigestUpdate(ctx, d, n); }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(ctx, md, &n);
        return to_hex(md, n);
    }
};

#endif

}  // namespace

void blob_bytes(std::uint64_t seed, std::uint64_t offset, char *out, std::size_t len) {
    std::uint64_t s = mix(seed * 0x100000001B3ull + 1);
    for (std::size_t i = 0; i < len;) {
        std::uint64_t pos = offset + i;
        std::uint64_t word = mix(s ^ (pos / 8));
        unsigned char bytes[8];
        std::memcpy(bytes, &word, 8);
        for (std::size_t k = pos % 8; k < 8 && i < len; ++k, ++i) out[i] = static_cast<char>(bytes[k]);
    }
}

std::string blob_content(std::uint64_t seed, std::size_t size) {
    std::string s(size, '\0');
    blob_bytes(seed, 0, s.data(), size);
    return s;
}

std::string write_blob(const std::string &path, std::uint64_t seed, std::uint64_t size) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path);
    Hasher h;
    std::vector<char> buf(1 << 20);
    for (std::uint64_t off = 0; off < size;) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
        blob_bytes(seed, off, buf.data(), n);
        out.write(buf.data(), static_cast<std::streamsize>(n));
        h.update(buf.data(), n);
        off += n;
    }
    if (!out) throw std::runtime_error("cannot write " + path);
    return h.hex();
}

std::string sha256_hex(const std::string &data) {
    Hasher h;
    h.update(data.data(), data.size());
    return h.hex();
}

std::string sha512_hex(const std::string &data) {
    Hasher h(EVP_sha512());
    h.update(data.data(), data.size());
    return h.hex();
}

std::string sha256_file_hex(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    Hasher h;
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
    }
    return h.hex();
}

}  // namespace blobfetch::test
