#pragma once
// Blobs from file:// URLs (vcpkg's `files` sources, local mirrors): copied by
// the engine's worker threads rather than through libcurl, whose file://
// transfers read the whole file inside one call on the transfer thread (no
// other transfer moves meanwhile, no cancellation is seen, and peers' stall
// clocks run).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/cancellation.h"
#include "base/status.h"
#include "io/positional_writer.h"

namespace blobfetch {

// Copies the file `url` names into `out` from offset 0, in 1 MiB pieces,
// calling `on_bytes` after each piece (on this thread). Returns the number of
// bytes copied. `expected_size` (-1: unknown) and `max_size` bound it:
// a regular file of another size, or anything longer, is Errc::verify before
// (or as soon as) it shows. A missing file or a directory is Errc::not_found
// (a cache miss), as for an HTTP 404. Cancellation is seen between pieces
// and, for a pipe or device that has nothing to read, every 100 ms.
// `shown` names the source in messages.
Expected<std::int64_t> copy_local_file(std::string_view url, const std::string &shown, IPositionalWriter &out,
                                       std::int64_t expected_size, std::int64_t max_size,
                                       const CancellationToken &cancel,
                                       const std::function<void(std::int64_t)> &on_bytes);

}  // namespace blobfetch
