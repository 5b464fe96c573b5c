#pragma once
// Confinement of destination paths to the cache directory.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
// bytes, a directory's 255). On Windows, also none of the names Windows
// cannot store (see windows_name_reason). Returns Errc::unsafe_path with a
// message naming the path otherwise. Pure; no file-system access.
Status check_relative_path(std::string_view path);

// The engine's own names in a cache directory, which no blob path may use
// (a blob there would clobber the held lock, another blob's partial file or
// record, and gc would take it for a leftover): `.download.lock`, any name
// ending in `.part`, `.dlstate` or `.dlstate.tmp`, and any name containing
// `.~bf` (private temporaries: `<name>.~bf<pid>-<random>.part`), each in any
// case of its ASCII letters (on a case-insensitive file system `X.PART` is
// `x.part`; the rule is the same everywhere so that a manifest means one
// thing on every platform). Returns why `name` (one path component) is
// reserved, or nullptr when it is not.
const char *reserved_name_reason(std::string_view name);

// Why Windows cannot hold a file or directory named `name` (one path
// component) as written, or "" when it can: a device name (CON, PRN, AUX,
// NUL, COM1-COM9, LPT1-LPT9, CONIN$, CONOUT$; in any case, alone or with an
// extension, "nul.txt": opening it opens the device), a name ending in '.' or
// ' ' (Windows drops them, so the file gets another name), or one holding
// '<', '>', ':', '"', '|', '?', '*' or a control character (refused by
// Windows, or ':' an alternate data stream). Pure and portable (tested
// everywhere); check_relative_path applies it on Windows only.
std::string windows_name_reason(std::string_view name);

// `s` with the ASCII letters A-Z in lower case (other bytes, UTF-8 among
// them, unchanged).
std::string fold_ascii_case(std::string_view s);

// True where the file system treats names that differ only in (ASCII) case as
// one file: Windows (NTFS, FAT, and so Wine's drives).
#ifdef _WIN32
inline constexpr bool kNamesIgnoreCase = true;
#else
inline constexpr bool kNamesIgnoreCase = false;
#endif

// The key under which this platform's file system compares `path`: two
// paths name the same file when their keys are equal. fold_ascii_case(path)
// on Windows, `path` itself on POSIX. (Windows also folds non-ASCII letters;
// two names that differ only in such a letter's case are not caught here, and
// the lock and same-path rules treat them as two names.) Pure.
std::string path_key(std::string_view path);

// For each of `paths` (cache paths of one fetch, in descriptor order), the
// index of the first earlier path that names the same file on this platform
// while being spelled differently (equal path_key, unequal bytes), or
// `paths.size()` when there is none. Always none on POSIX. Exact duplicates
// are not collisions (the engine handles them: one waits for the other).
std::vector<std::size_t> spelling_collisions(const std::vector<std::string> &paths);

// The error for cache path `later` that spelling_collisions() matched with
// `earlier`: names both paths and says why nothing was written for `later`.
Status spelling_collision_error(const std::string &later, const std::string &earlier);

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

// The components of a '/'-separated relative path, empty ones skipped (views
// into `relative`).
std::vector<std::string_view> path_components(std::string_view relative);

}  // namespace blobfetch
