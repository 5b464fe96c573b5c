#pragma once
// What the download layer is asked to fetch, and what it reports back.

#include <cstdint>
#include <string>

#include "base/status.h"

namespace blobfetch {

struct BlobSpec {
    std::string url;
    std::string path;          // relative to the cache directory, already checked safe
    std::int64_t size = -1;    // expected size, -1 unknown
    std::string sha256;        // lower-case hex, "" unknown
    std::string sha512;        // lower-case hex, "" unknown (vcpkg's asset caching speaks SHA-512)
    std::string headers;       // secret request headers, "Name: value\n..."

    // An expected digest pins the content: the whole result is checked.
    bool pinned() const { return !sha256.empty() || !sha512.empty(); }
};

struct BlobOutcome {
    Status status;                  // ok when the blob is now in the cache
    std::int64_t bytes_downloaded = 0;
    std::int64_t bytes_skipped = 0; // already present, not downloaded
    bool skipped = false;           // the whole blob was already in the cache
};

}  // namespace blobfetch
