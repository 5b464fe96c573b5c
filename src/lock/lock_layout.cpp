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
    return line.substr(0, at) + ",Blob:" + line.substr(at + mark.size());
}

std::string first_line(std::string buf) {
    if (const auto nl = buf.find('\n'); nl != std::string::npos) buf.resize(nl);
    if (const auto nul = buf.find('\0'); nul != std::string::npos) buf.resize(nul);  // a sparse, unwritten slot
    while (!buf.empty() && buf.back() == ' ') buf.pop_back();
    return buf;
}

}  // namespace lockfile
}  // namespace blobfetch
