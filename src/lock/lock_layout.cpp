// The lock file's text, shared by the POSIX and the Windows locks.
#include "lock/lock_layout.h"

#include <cstdio>
#include <ctime>
#include <vector>

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "base/path_safety.h"
#include "lock/blob_lock.h"

namespace blobfetch {

std::uint64_t blob_lock_key(std::string_view name) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
    for (const char c : path_key(name)) {  // on Windows `A.BIN` is `a.bin`: one key
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h & lockfile::kKeyMask;
}

namespace lockfile {
namespace {

std::string now_iso8601() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
#ifdef _WIN32
    gmtime_s(&tm, &t);
#else
    gmtime_r(&t, &tm);
#endif
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

long current_pid() {
#ifdef _WIN32
    return static_cast<long>(GetCurrentProcessId());
#else
    return static_cast<long>(::getpid());  // (not cached: a forked child is another holder)
#endif
}

}  // namespace

std::string holder_text(const std::string &extra, std::size_t width) {
    std::string line = "PID:" + std::to_string(current_pid()) + ",Time:" + now_iso8601() + extra;
    line.resize(width - 1, ' ');
    line += '\n';
    return line;
}

std::string slot_suffix(std::uint64_t key, const std::string &name) {
    char hex[24];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key));
    return std::string(",Key:") + hex + ",Blob:" + name.substr(0, 70);
}

std::string slot_holder(const std::string &line, std::uint64_t key) {
    const std::string mark = slot_suffix(key, "");
    const auto at = line.find(mark);
    if (at == std::string::npos) return {};
    return clean_holder(line.substr(0, at) + ",Blob:" + line.substr(at + mark.size()));
}

namespace {

bool all_digits(std::string_view s) {
    for (const char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// "YYYY-MM-DDTHH:MM:SSZ", as holder_text() writes it.
bool is_holder_time(std::string_view t) {
    static constexpr std::string_view kShape = "0000-00-00T00:00:00Z";
    if (t.size() != kShape.size()) return false;
    for (std::size_t i = 0; i < t.size(); ++i)
        if (kShape[i] == '0' ? (t[i] < '0' || t[i] > '9') : t[i] != kShape[i]) return false;
    return true;
}

bool is_hex16(std::string_view s) {
    if (s.size() != 16) return false;
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// The code point of the UTF-8 sequence at `s[i]` and its length; 0 for a
// byte that starts none (invalid, overlong, a surrogate, beyond U+10FFFF).
std::size_t utf8_at(std::string_view s, std::size_t i, char32_t &cp) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    cp = n == 1 ? c : c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

bool shown_as_is(char32_t cp) {
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return false;  // C0, DEL, C1
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F)
        return false;  // bidirectional overrides and marks: they reorder what follows on the terminal
    return true;
}

}  // namespace

std::string printable_name(std::string_view name) {
    std::string out;
    std::vector<std::size_t> ends;  // where each character of `out` ends
    for (std::size_t i = 0; i < name.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_at(name, i, cp);
        if (n != 0 && shown_as_is(cp)) out.append(name.substr(i, n));
        else out += '?';
        ends.push_back(out.size());
        i += n == 0 ? 1 : n;
    }
    if (out.size() <= kShownNameBytes) return out;
    std::size_t keep = 0;  // the longest whole-character prefix that leaves room for "..."
    for (const std::size_t e : ends)
        if (e + 3 <= kShownNameBytes) keep = e;
    return out.substr(0, keep) + "...";
}

std::optional<HolderFields> parse_holder(std::string_view line) {
    if (line.substr(0, 4) != "PID:") return std::nullopt;
    const auto time_at = line.find(",Time:");
    if (time_at == std::string_view::npos) return std::nullopt;
    HolderFields f;
    const std::string_view pid = line.substr(4, time_at - 4);
    if (pid.empty() || pid.size() > 10 || !all_digits(pid)) return std::nullopt;
    f.pid = std::string(pid);
    std::string_view rest = line.substr(time_at + 6);
    if (rest.size() < 20 || !is_holder_time(rest.substr(0, 20))) return std::nullopt;
    f.time = std::string(rest.substr(0, 20));
    rest.remove_prefix(20);
    if (rest.substr(0, 5) == ",Key:") {
        if (!is_hex16(rest.substr(5, 16))) return std::nullopt;
        rest.remove_prefix(21);
    }
    if (rest.substr(0, 6) == ",Blob:") {
        f.blob = printable_name(rest.substr(6));
        if (f.blob.empty()) return std::nullopt;
        rest = {};
    }
    if (!rest.empty()) return std::nullopt;
    return f;
}

std::string clean_holder(std::string_view line) {
    const auto f = parse_holder(line);
    if (!f) return {};
    return "PID:" + f->pid + ",Time:" + f->time + (f->blob.empty() ? std::string() : ",Blob:" + f->blob);
}

std::string first_line(std::string buf) {
    if (const auto nl = buf.find('\n'); nl != std::string::npos) buf.resize(nl);
    if (const auto nul = buf.find('\0'); nul != std::string::npos) buf.resize(nul);  // a sparse, unwritten slot
    while (!buf.empty() && buf.back() == ' ') buf.pop_back();
    return buf;
}

}  // namespace lockfile
}  // namespace blobfetch
