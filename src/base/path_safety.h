#pragma once
// Confinement of destination paths to the cache directory.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace blobfetch {

// The longest file name a blob may have: 255 (NAME_MAX) minus the longest
// suffix blobfetch adds (`.~bf<pid>-<16 hex>.dlstate.tmp`).
inline constexpr std::size_t kMaxBlobFileName = 212;

// Checks a destination path that is meant to be relative to a cache directory.
// Accepts non-empty '/'-separated relative paths whose components are neither
// empty, ".", nor "..", contain no NUL or backslash, do not start with a
// drive letter, are none of the engine's own names (see
// reserved_name_reason), and fit (the file name at most kMaxBlobFileName
// bytes, a directory's 255). Returns Errc::unsafe_path with a message naming
// the path otherwise. Pure; no file-system access.
Status check_relative_path(std::string_view path);

// The engine's own names in a cache directory, which no blob path may use
// (a blob there would clobber the held lock, another blob's partial file or
// record, and gc would take it for a leftover): `.download.lock`, any name
// ending in `.part`, `.dlstate` or `.dlstate.tmp`, and any name containing
// `.~bf` (private temporaries: `<name>.~bf<pid>-<random>.part`). Returns why `name`
// (one path component) is reserved, or nullptr when it is not.
const char *reserved_name_reason(std::string_view name);

// Checks, on the file system, that the directory that will hold `relative`
// (already accepted by check_relative_path) lies inside `cache_dir` once
// symbolic links are resolved: a link inside the cache that points outside is
// refused (Errc::unsafe_path, naming the link and its target). The cache
// directory itself may be a link. Components that do not exist yet are fine.
Status check_inside_cache(const std::filesystem::path &cache_dir, std::string_view relative);

// Removes the query string and fragment from a URL and any user:password@
// part, so it can be logged or shown. "https://u:p@h/a?sig=x" -> "https://h/a".
std::string redact_url(std::string_view url);

// file:// URLs of local paths, both ways. file_url() percent-encodes every
// byte outside RFC 3986's unreserved and sub-delimiter characters (a space,
// '%', '?', '#', UTF-8); file_url_path() gives the path back
// ("file:///p", "file://localhost/p", %XX decoded), or nullopt for another
// host, a relative or malformed path, or an encoded NUL.
std::string file_url(const std::string &path);
std::optional<std::string> file_url_path(std::string_view url);

}  // namespace blobfetch
