#pragma once
// A logging hook: the core logs through a Logger it is given; the plugin bridge
// forwards to the host's bf_log_fn. Messages must never contain secrets (use
// redact_url for URLs; never log request headers).

#include <functional>
#include <cstdint>
#include <string>
#include <string_view>

namespace blobfetch {

enum class LogLevel : int { error = 0, warn = 1, info = 2, debug = 3 };

// Thread safety: log() may be called from any thread; the sink must be
// thread-safe (the C ABI documents that for bf_log_fn).
class Logger {
public:
    using Sink = std::function<void(LogLevel, std::string_view)>;

    Logger() = default;
    explicit Logger(Sink sink) : m_sink(std::move(sink)) {}

    void log(LogLevel level, std::string_view message) const;
    void error(std::string_view m) const { log(LogLevel::error, m); }
    void warn(std::string_view m) const { log(LogLevel::warn, m); }
    void info(std::string_view m) const { log(LogLevel::info, m); }
    void debug(std::string_view m) const { log(LogLevel::debug, m); }

private:
    Sink m_sink;
};

// A size for messages: "512 bytes", "1.5 MiB", "3.0 GiB".
std::string byte_size_text(std::int64_t n);

}  // namespace blobfetch
