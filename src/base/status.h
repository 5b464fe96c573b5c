#pragma once
// Recoverable errors as values. Errc mirrors the C ABI's bf_status codes one to
// one so the plugin bridge converts without a table; nothing here depends on
// the public header, so the host and the config library can use it too.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace blobfetch {

enum class Errc : std::int32_t {
    ok = 0,
    internal = 1,
    invalid_argument = 2,
    unsupported_abi = 3,
    config = 4,
    cancelled = 5,
    network = 6,
    http = 7,
    not_found = 8,
    verify = 9,
    io = 10,
    lock_timeout = 11,
    partial = 12,
    unsafe_path = 13,
};

// A status: ok, or an error code with a message that names the file or URL
// involved (secrets redacted) and says what to do.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Errc code, std::string message) : m_code(code), m_message(std::move(message)) {}

    static Status success() { return {}; }

    bool ok() const { return m_code == Errc::ok; }
    explicit operator bool() const { return ok(); }
    Errc code() const { return m_code; }
    const std::string &message() const { return m_message; }

private:
    Errc m_code = Errc::ok;
    std::string m_message;
};

// A value or the Status explaining why there is none (a small stand-in for
// C++23 std::expected).
template <class T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : m_value(std::move(value)) {}  // NOLINT: implicit by design
    Expected(Status error) : m_status(std::move(error)) {}  // NOLINT: implicit by design
    Expected(Errc code, std::string message) : m_status(code, std::move(message)) {}

    bool ok() const { return m_value.has_value(); }
    explicit operator bool() const { return ok(); }
    const Status &status() const { return m_status; }
    const std::string &message() const { return m_status.message(); }

    // Precondition: ok().
    T &value() & { return *m_value; }
    const T &value() const & { return *m_value; }
    T &&value() && { return std::move(*m_value); }
    T *operator->() { return &*m_value; }
    const T *operator->() const { return &*m_value; }
    T &operator*() { return *m_value; }
    const T &operator*() const { return *m_value; }

private:
    std::optional<T> m_value;
    Status m_status;
};

}  // namespace blobfetch
