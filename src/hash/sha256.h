#pragma once
// SHA-256 through OpenSSL's libcrypto (uses SHA-NI where the CPU has it).

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/cancellation.h"
#include "base/status.h"

namespace blobfetch {

// Incremental SHA-256. Move-only; not thread-safe (one owner at a time).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256 &&other) noexcept;
    Sha256 &operator=(Sha256 &&other) noexcept;
    Sha256(const Sha256 &) = delete;
    Sha256 &operator=(const Sha256 &) = delete;

    void update(const void *data, std::size_t len);
    // Finishes and returns the digest as 64 lower-case hex digits. The object
    // is reset and can be reused afterwards.
    std::string finish_hex();

private:
    void *m_ctx = nullptr;  // EVP_MD_CTX*
};

// True if `hex` is exactly 64 hex digits (either case).
bool is_sha256_hex(std::string_view hex);
// Lower-cases hex digits.
std::string lower_hex(std::string_view hex);

// Hashes a whole file, reading in 1 MiB pieces; checks `cancel` between them.
// Errors name the file.
Expected<std::string> sha256_file(const std::filesystem::path &path, const CancellationToken &cancel = {});

}  // namespace blobfetch
