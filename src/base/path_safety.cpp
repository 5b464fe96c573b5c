#include "base/path_safety.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <iterator>
#include <system_error>
#include <unordered_map>

namespace blobfetch {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string fold_ascii_case(std::string_view s) {
    std::string out(s);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string path_key(std::string_view path) {
    if constexpr (kNamesIgnoreCase) return fold_ascii_case(path);
    return std::string(path);
}

const char *reserved_name_reason(std::string_view original) {
    const std::string folded = fold_ascii_case(original);  // the same rule in every case: `X.PART` is `x.part`
    const std::string_view name = folded;
    auto ends = [&](std::string_view suffix) {
        return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
    };
    if (name == ".download.lock")
        return "is named .download.lock (in some case), which blobfetch uses for its lock file";
    if (ends(".part")) return "ends with '.part' (in some case), which blobfetch uses for its partial files";
    if (ends(".dlstate") || ends(".dlstate.tmp"))
        return "ends with '.dlstate' (in some case), which blobfetch uses for its download records";
    if (name.find(".~bf") != std::string_view::npos)
        return "contains '.~bf' (in some case), which blobfetch uses for the names of its private temporary files";
    return nullptr;
}

std::string windows_name_reason(std::string_view name) {
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 32) return "holds a control character (Windows does not allow them in names)";
        if (std::strchr("<>:\"|?*", c) != nullptr)
            return std::string("holds '") + c + "' (Windows does not allow it in names" +
                   (c == ':' ? "; it would name an alternate data stream)" : ")");
    }
    if (!name.empty() && (name.back() == '.' || name.back() == ' '))
        return std::string("ends with ") + (name.back() == '.' ? "'.'" : "a space") +
               " (Windows drops it from names, so the file would get another name)";
    // A device name, alone or with an extension: up to the first '.', blanks
    // at its end ignored, as Windows reads it.
    std::string base = fold_ascii_case(name.substr(0, name.find('.')));
    while (!base.empty() && base.back() == ' ') base.pop_back();
    static const char *const kDevices[] = {"con", "prn", "aux", "nul", "conin$", "conout$"};
    bool device = std::find(std::begin(kDevices), std::end(kDevices), base) != std::end(kDevices);
    if (base.size() == 4 && (base.compare(0, 3, "com") == 0 || base.compare(0, 3, "lpt") == 0) && base[3] >= '1' &&
        base[3] <= '9')
        device = true;
    if (device)
        return "is the Windows device name '" + std::string(name.substr(0, name.find('.'))) +
               "' (CON, PRN, AUX, NUL, COM1-9 and LPT1-9 name devices in any case and with any extension: "
               "opening the file would open the device)";
    return {};
}

std::vector<std::size_t> spelling_collisions(const std::vector<std::string> &paths) {
    std::vector<std::size_t> out(paths.size(), paths.size());
    if constexpr (!kNamesIgnoreCase) return out;
    std::unordered_map<std::string, std::size_t> first;  // key -> the first path with it
    first.reserve(paths.size());
    for (std::size_t i = 0; i < paths.size(); ++i) {
        auto [it, fresh] = first.emplace(path_key(paths[i]), i);
        if (!fresh && paths[it->second] != paths[i]) out[i] = it->second;
    }
    return out;
}

Status spelling_collision_error(const std::string &later, const std::string &earlier) {
    return Status(Errc::unsafe_path, "cache path '" + later + "' and the earlier '" + earlier +
                                         "' name the same file on Windows, where names are case-insensitive; "
                                         "nothing was written for '" + later +
                                         "': give the blobs names that differ in more than case");
}

Status check_relative_path(std::string_view path) {
    auto refuse = [&](std::string_view why) {
        return Status(Errc::unsafe_path, "destination path '" + std::string(path) + "' " +
                                             std::string(why) +
                                             ": use a relative path inside the cache directory");
    };
    if (path.empty()) return refuse("is empty");
    if (path.find('\0') != std::string_view::npos) return refuse("contains a NUL byte");
    if (path.find('\\') != std::string_view::npos) return refuse("contains a backslash");
    if (path.front() == '/') return refuse("is absolute");
    if (path.size() >= 2 && std::isalpha(static_cast<unsigned char>(path[0])) && path[1] == ':')
        return refuse("starts with a drive letter");
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        std::string_view part = path.substr(start, end - start);
        if (part.empty()) return refuse("has an empty component");
        if (part == ".") return refuse("has a '.' component");
        if (part == "..") return refuse("escapes the cache directory with '..'");
        if (const char *why = reserved_name_reason(part))
            return Status(Errc::unsafe_path, "destination path '" + std::string(path) + "' " + why +
                                                 ": rename the blob or choose another cache_path");
#ifdef _WIN32
        if (const std::string why = windows_name_reason(part); !why.empty())
            return Status(Errc::unsafe_path, "destination path '" + std::string(path) + "' has the component '" +
                                                 std::string(part) + "', which " + why +
                                                 ": rename the blob or choose another cache_path");
#endif
        // The file's own name gets blobfetch's suffixes (at most
        // `.~bf<pid>-<16 hex>.dlstate.tmp`, 43 bytes) within the 255 bytes a
        // name may have; a directory's name may use them all.
        const std::size_t limit = end == path.size() ? kMaxBlobFileName : 255;
        if (part.size() > limit)
            return Status(Errc::unsafe_path,
                          "destination path '" + std::string(path.substr(0, 120)) + "...' has a component of " +
                              std::to_string(part.size()) + " bytes; a blob's file name may have at most " +
                              std::to_string(kMaxBlobFileName) + " (blobfetch adds its suffixes to it), a directory's 255: "
                              "choose another cache_path");
        start = end + 1;
    }
    return Status::success();
}

Status check_inside_cache(const std::filesystem::path &cache_dir, std::string_view relative) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path root = fs::weakly_canonical(cache_dir, ec);
    if (ec) return Status(Errc::io, "cannot resolve the cache directory '" + cache_dir.string() + "': " + ec.message());
    // Walk the existing directories of the path; the first link that leaves
    // the cache is named in the message.
    fs::path walked = cache_dir;
    const fs::path rel(relative);
    for (auto it = rel.begin(); it != rel.end(); ++it) {
        if (std::next(it) == rel.end()) break;  // the file itself: replaced by rename, never followed
        walked /= *it;
        const fs::file_status st = fs::symlink_status(walked, ec);
        if (ec || !fs::exists(st)) break;  // the rest does not exist yet: created inside
        if (!fs::is_symlink(st)) continue;
        const fs::path target = fs::weakly_canonical(walked, ec);
        if (ec) return Status(Errc::io, "cannot resolve '" + walked.string() + "': " + ec.message());
        auto mismatch = std::mismatch(root.begin(), root.end(), target.begin(), target.end());
        if (mismatch.first != root.end())
            return Status(Errc::unsafe_path, "destination path '" + std::string(relative) + "' leads outside the cache "
                                             "directory '" + cache_dir.string() + "' through the symbolic link '" +
                                             walked.string() + "' -> '" + target.string() +
                                             "'; remove the link or use a cache directory without it");
    }
    return Status::success();
}

std::string redact_url(std::string_view url) {
    const std::size_t scheme_end = url.find("://");
    auto cut = [](std::string_view u) { return std::string(u.substr(0, u.find_first_of("?#"))); };
    if (scheme_end == std::string_view::npos) return cut(url);
    const std::string_view scheme = url.substr(0, scheme_end + 3);
    std::string_view rest = url.substr(scheme_end + 3);
    // The authority as a URL parser reads it: up to the first '/', '?' or '#'.
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        rest.remove_prefix(at + 1);  // user:password@host
    } else if (const std::size_t colon = authority.rfind(':');
               colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
        // "host:port" with a port that is no number: credentials holding a
        // '/', '?' or '#' ("user:pa/ss@host"). Everything up to the last '@'
        // is taken for them, so that no part of a password is ever shown.
        const std::string_view port = authority.substr(colon + 1);
        const bool numeric = !port.empty() && port.find_first_not_of("0123456789") == std::string_view::npos;
        if (!numeric) {
            const std::size_t last_at = rest.rfind('@');
            if (last_at != std::string_view::npos) rest.remove_prefix(last_at + 1);
            else rest = rest.substr(0, colon);  // no '@': show the host only
        }
    }
    return std::string(scheme) + cut(rest);
}

std::string file_url(const std::string &path) {
    static const char *kHex = "0123456789ABCDEF";
    std::string out = path.empty() || path.front() != '/' ? "file:///" : "file://";
    for (unsigned char c : path) {
        const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                          std::strchr("-._~/!$&'()*+,;=:@", static_cast<char>(c)) != nullptr;
        if (keep && c != '\0') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::optional<std::string> file_url_path(std::string_view url) {
    constexpr std::string_view kScheme = "file://";
    if (url.size() < kScheme.size() || url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
    std::string_view rest = url.substr(kScheme.size());
    if (rest.substr(0, 9) == "localhost") rest.remove_prefix(9);
    if (rest.empty() || rest.front() != '/') return std::nullopt;  // another host, or no absolute path
    std::string path;
    path.reserve(rest.size());
    for (std::size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] == '?' || rest[i] == '#') break;
        if (rest[i] != '%') {
            path += rest[i];
            continue;
        }
        if (i + 2 >= rest.size() || hex_value(rest[i + 1]) < 0 || hex_value(rest[i + 2]) < 0) return std::nullopt;
        const char c = static_cast<char>(hex_value(rest[i + 1]) * 16 + hex_value(rest[i + 2]));
        if (c == '\0') return std::nullopt;
        path += c;
        i += 2;
    }
    return path;
}

std::vector<std::string_view> path_components(std::string_view relative) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start < relative.size()) {
        std::size_t end = relative.find('/', start);
        if (end == std::string_view::npos) end = relative.size();
        if (end > start) out.push_back(relative.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

}  // namespace blobfetch
