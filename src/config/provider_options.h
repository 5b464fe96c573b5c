#pragma once
// Provider options: the JSON object a host passes to session_create (and that
// manifests carry under "options"). Strict: unknown keys are errors, so a typo
// never passes silently.
//
//   key                  type     default    range / values
//   concurrency          integer  8          1..256   global limit on transfers in one fetch()
//   chunk_size           integer  2097152    65536..1073741824 bytes
//   retries              integer  4          0..100   retries per request
//   connect_timeout_ms   integer  15000      1..600000
//   stall_timeout_ms     integer  30000      100..3600000  abort + retry when slower than
//   stall_min_speed      integer  1024       0..      bytes/s for this long (0 disables)
//   verify_cached_hash   boolean  true       hash cached files before trusting them
//   durability           string   "strict"   "strict" | "relaxed" (no fdatasync of data)
//   locking              boolean  true       take <dir>/.download.lock so processes never fetch the
//                                            same bytes (false: private temporary files, no resume)
//   lock_timeout_ms      integer  3600000    0..86400000  wait this long for another process's lock
//   fail_fast            boolean  false      stop every other blob when one fails
//   max_blob_size        integer  1 TiB      1..2^62  larger sizes (descriptor or server) are refused;
//                                            a blob of unknown size (no size in its descriptor, none
//                                            from the server: a 200 without Content-Length) is cut
//                                            at this many bytes. `blobfetch x-script` uses 8 GiB
//                                            unless $BLOBFETCH_OPTIONS names it.
//   min_free_space       integer  256 MiB    0..2^62  a blob of unknown size is stopped before the file
//                                            system holding it keeps less than this many bytes free
//                                            (asked every 8 MiB written, not on every write), so an
//                                            endless body never fills the disk. (A blob of known
//                                            size reserves its space up front instead.)
//   error_body_limit     integer  65536      0..16777216  bytes of an error answer's body (4xx, 5xx,
//   error_body_timeout_ms integer 5000       1..600000    or a redirect's page) read, and ms spent on it
//                                            after its head, at most; then it is cut and the status
//                                            acted on (404: a miss, 503: a retry, 3xx: followed)
//   ca_file              string   ""         CA bundle path ("" = system store)
//   user_agent           string   ""         "" = "blobfetch/<version>"

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace blobfetch::config {

struct ProviderOptions {
    int concurrency = 8;
    std::int64_t chunk_size = 2 << 20;
    int retries = 4;
    std::int64_t connect_timeout_ms = 15000;
    std::int64_t stall_timeout_ms = 30000;
    std::int64_t stall_min_speed = 1024;
    bool verify_cached_hash = true;
    std::string durability = "strict";
    bool locking = true;
    std::int64_t lock_timeout_ms = 3600000;
    bool fail_fast = false;
    std::int64_t max_blob_size = std::int64_t{1} << 40;
    std::int64_t min_free_space = std::int64_t{256} << 20;
    std::int64_t error_body_limit = 64 * 1024;
    std::int64_t error_body_timeout_ms = 5000;
    std::string ca_file;
    std::string user_agent;
};

// Parses an options object. `where` names the source in messages ("session
// config", a manifest path), `pointer` is the object's JSON pointer ("" or
// "/options"). Errors are Errc::config naming where, pointer, field, what was
// expected and what was found.
Expected<ProviderOptions> parse_provider_options(const nlohmann::json &object, std::string_view where,
                                                 std::string_view pointer);

// Parses options from JSON text; empty text means all defaults. Syntax errors
// report line and column.
Expected<ProviderOptions> parse_provider_options_text(std::string_view json_text, std::string_view where);

// The options as a JSON object (round-trips through parse_provider_options).
nlohmann::json to_json(const ProviderOptions &options);

// 1-based line and column of a byte offset in `text`.
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t byte_offset);

// A short rendering of a JSON value for error messages (truncated).
std::string describe_json(const nlohmann::json &value);

}  // namespace blobfetch::config
