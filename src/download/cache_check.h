#pragma once
// Is a blob already complete in the cache?

#include <filesystem>

#include "base/cancellation.h"
#include "base/status.h"
#include "download/blob_spec.h"

namespace blobfetch {

// True when `file` is a regular file of the expected size and, if
// `verify_hash` and the spec has a SHA-256, of the expected content. A spec
// with neither size nor hash trusts any regular file. Cost: one stat, plus a
// full read when hashing. Errors (unreadable file) are returned, not hidden.
Expected<bool> is_cached(const std::filesystem::path &file, const BlobSpec &spec, bool verify_hash,
                         const CancellationToken &cancel);

}  // namespace blobfetch
