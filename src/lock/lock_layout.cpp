// The lock file's text, shared by the POSIX and the Windows locks.
#include "lock/lock_layout.h"

#include <cstdio>
#include <ctime>

#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "base/path_safety.h"
#include "base/printable.h"
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

}  // namespace

std::string printable_name(std::string_view name) { return printable_text(name, kShownNameBytes); }

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
