#include "base/log.h"

namespace blobfetch {

void Logger::log(LogLevel level, std::string_view message) const {
    if (m_sink) m_sink(level, message);
}

}  // namespace blobfetch
