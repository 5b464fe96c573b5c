#pragma once
// Is a blob already complete in the cache?

#include <cstdint>
#include <string_view>

#include "base/cancellation.h"
#include "base/status.h"
#include "download/blob_spec.h"

namespace blobfetch {

class DirHandle;

// The file's size when `name` in `dir` is a regular file (never a link) of
// the expected size and, if `verify_hash` and the spec has a SHA-256 (else a
// SHA-512), of the expected content; -1 when it is not. A spec with neither
// size nor hash trusts any regular file. Cost: one fstatat, plus a full read
// when hashing. Errors (an unreadable file) are returned, not hidden.
Expected<std::int64_t> cached_size(const DirHandle &dir, std::string_view name, const BlobSpec &spec,
                                   bool verify_hash, const CancellationToken &cancel);

}  // namespace blobfetch
