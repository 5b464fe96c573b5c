#include "base/log.h"

#include <cstdio>

namespace blobfetch {

void Logger::log(LogLevel level, std::string_view message) const {
    if (m_sink) m_sink(level, message);
}

std::string byte_size_text(std::int64_t n) {
    const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[64];
    if (u == 0) std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(n));
    else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

}  // namespace blobfetch
