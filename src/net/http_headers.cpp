#include "net/http_headers.h"

#include <cctype>
#include <charconv>
#include <limits>

#include <curl/curl.h>

namespace blobfetch {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// Parses a non-negative decimal that fits in int64; all of `s` must be digits.
std::optional<std::int64_t> parse_uint(std::string_view s) {
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
    return v;
}

// Drops `prefix` (lower case) from the front of `s` when `s` starts with it
// in any case.
bool consume_prefix_nocase(std::string_view &s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    s.remove_prefix(prefix.size());
    return true;
}

}  // namespace

std::optional<ContentRange> parse_content_range(std::string_view value) {
    value = trim(value);
    if (!consume_prefix_nocase(value, "bytes ")) return std::nullopt;
    value = trim(value);
    auto dash = value.find('-');
    auto slash = value.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return std::nullopt;
    auto first = parse_uint(value.substr(0, dash));
    auto last = parse_uint(value.substr(dash + 1, slash - dash - 1));
    if (!first || !last || *last < *first) return std::nullopt;
    ContentRange r{*first, *last, -1};
    std::string_view total = value.substr(slash + 1);
    if (total != "*") {
        auto t = parse_uint(total);
        if (!t || *last >= *t) return std::nullopt;
        r.total = *t;
    }
    return r;
}

std::optional<std::int64_t> parse_unsatisfied_range(std::string_view value) {
    value = trim(value);
    if (!consume_prefix_nocase(value, "bytes */")) return std::nullopt;
    auto total = parse_uint(trim(value));
    if (!total) return std::nullopt;
    return static_cast<std::int64_t>(*total);
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_unix) {
    value = trim(value);
    if (value.empty()) return std::nullopt;
    if (auto secs = parse_uint(value)) return std::chrono::seconds(*secs);
    std::string date(value);
    time_t t = curl_getdate(date.c_str(), nullptr);
    if (t < 0) return std::nullopt;
    std::int64_t delta = static_cast<std::int64_t>(t) - now_unix;
    return std::chrono::seconds(delta > 0 ? delta : 0);
}

bool split_header_line(std::string_view line, std::string &name, std::string &value) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view n = line.substr(0, colon);
    for (char c : n)
        if (c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
            return false;
    name.assign(n);
    for (char &c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    value.assign(trim(line.substr(colon + 1)));
    return true;
}

}  // namespace blobfetch
