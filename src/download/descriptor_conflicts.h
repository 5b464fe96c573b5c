#pragma once
// One cache file, one blob: descriptors of one fetch whose cache paths name
// the same file must describe the same blob.

#include <cstddef>
#include <vector>

#include "base/status.h"
#include "download/blob_spec.h"

namespace blobfetch {

// For each of `specs` (in descriptor order), the index of the first earlier
// descriptor that names the same cache file (equal path_key(): on Windows in
// any ASCII case) while either being spelled differently (a Windows case
// collision) or describing another blob (another URL, size, SHA-256 or
// SHA-512, as given); `specs.size()` when there is none. Exact duplicates
// are not conflicts (the engine fetches the blob once, the other waits).
// The later descriptor fails and the earlier one proceeds: otherwise both
// would be reported in the cache while the file holds only one of them.
// Pure; O(n log n).
std::vector<std::size_t> descriptor_conflicts(const std::vector<BlobSpec> &specs);

// The error for `later`, which descriptor_conflicts() matched with `earlier`:
// names the path and what differs (never a URL's query or a header) and
// says that nothing was written for the later one.
Status descriptor_conflict_error(const BlobSpec &later, const BlobSpec &earlier);

}  // namespace blobfetch
