#pragma once
// Deterministic test content: byte i of blob (seed) is a pure function of
// (seed, i), so any range can be produced or checked without the whole blob.

#include <cstdint>
#include <string>

namespace blobfetch::test {

// Fills out[0, len) with bytes [offset, offset+len) of the blob for `seed`.
void blob_bytes(std::uint64_t seed, std::uint64_t offset, char *out, std::size_t len);
std::string blob_content(std::uint64_t seed, std::size_t size);
// Writes the blob to `path` (parent directories created) and returns its SHA-256 hex.
std::string write_blob(const std::string &path, std::uint64_t seed, std::uint64_t size);

std::string sha256_hex(const std::string &data);
std::string sha512_hex(const std::string &data);
std::string sha256_file_hex(const std::string &path);

}  // namespace blobfetch::test
