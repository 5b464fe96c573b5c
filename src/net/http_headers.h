#pragma once
// Pure parsing of HTTP response-header values, kept apart from the network so
// it is unit-tested and fuzzed without a server.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace blobfetch {

// "Content-Range: bytes <first>-<last>/<total|*>". `total` is -1 for '*'.
struct ContentRange {
    std::int64_t first = 0;
    std::int64_t last = 0;   // inclusive
    std::int64_t total = -1;
};
std::optional<ContentRange> parse_content_range(std::string_view value);

// The size in the Content-Range of a 416 answer ("bytes */<size>"), or
// nullopt for anything else.
std::optional<std::int64_t> parse_unsatisfied_range(std::string_view value);

// "Retry-After": delay-seconds or an HTTP-date (relative to `now`, as Unix
// seconds). Dates in the past give 0. Garbage gives nullopt.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_unix);

// Splits one raw header line ("Name: value\r\n") into a lower-cased name and a
// trimmed value. Returns false for status lines and malformed lines.
bool split_header_line(std::string_view line, std::string &name, std::string &value);

}  // namespace blobfetch
