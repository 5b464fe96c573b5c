#pragma once
// SHA-256 and SHA-512: OpenSSL's libcrypto on POSIX (SHA-NI where the CPU has
// it), the platform's CNG (BCryptHash) on Windows; one interface.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/cancellation.h"
#include "base/status.h"

namespace blobfetch {

// Incremental SHA-256 or SHA-512. Move-only; not thread-safe
// (one owner at a time).
class Digest {
public:
    enum class Algorithm { sha256, sha512 };
    explicit Digest(Algorithm algorithm);
    ~Digest();
    Digest(Digest &&other) noexcept;
    Digest &operator=(Digest &&other) noexcept;
    Digest(const Digest &) = delete;
    Digest &operator=(const Digest &) = delete;

    void update(const void *data, std::size_t len);
    // Finishes and returns the digest as lower-case hex (64 or 128 digits).
    // The object is reset and can be reused afterwards.
    std::string finish_hex();

private:
    void *m_ctx = nullptr;  // EVP_MD_CTX* (Windows: the CNG hash object)
    Algorithm m_algorithm;
};

class Sha256 : public Digest {
public:
    Sha256() : Digest(Algorithm::sha256) {}
};

class Sha512 : public Digest {
public:
    Sha512() : Digest(Algorithm::sha512) {}
};

// True if `hex` is exactly 64 hex digits (either case).
bool is_sha256_hex(std::string_view hex);
// True if `hex` is exactly 128 hex digits (either case).
bool is_sha512_hex(std::string_view hex);
// Lower-cases hex digits.
std::string lower_hex(std::string_view hex);

// Hashes a whole file, reading in 1 MiB pieces; checks `cancel` between them.
// Errors name the file.
Expected<std::string> sha256_file(const std::filesystem::path &path, const CancellationToken &cancel = {});
Expected<std::string> hash_file(const std::filesystem::path &path, Digest::Algorithm algorithm,
                                const CancellationToken &cancel = {});
// Hashes what `fd` (a regular file, read from offset 0 with pread) holds;
// `name` is the file as shown in errors.
Expected<std::string> hash_fd(int fd, Digest::Algorithm algorithm, const std::string &name,
                              const CancellationToken &cancel = {});

}  // namespace blobfetch
