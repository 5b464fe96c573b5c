#include "config/provider_options.h"

#include <limits>

namespace blobfetch::config {
namespace {

struct IntField {
    const char *name;
    std::int64_t min;
    std::int64_t max;
};

Status type_error(std::string_view where, std::string_view pointer, std::string_view key, std::string_view expected,
                  const nlohmann::json &found) {
    return Status(Errc::config, std::string(where) + ": " + std::string(pointer) + "/" + std::string(key) +
                                    ": expected " + std::string(expected) + ", got " + describe_json(found));
}

template <class T>
Status read_int(const nlohmann::json &v, std::string_view where, std::string_view pointer, const IntField &f, T &out) {
    std::string expected = "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max);
    if (!v.is_number_integer()) return type_error(where, pointer, f.name, expected, v);
    std::int64_t x = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(f.max)
                         ? f.max + 1
                         : v.get<std::int64_t>();
    if (x < f.min || x > f.max) return type_error(where, pointer, f.name, expected, v);
    out = static_cast<T>(x);
    return Status::success();
}

}  // namespace

std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t byte_offset) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < byte_offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return {line, col};
}

std::string describe_json(const nlohmann::json &value) {
    std::string kind;
    switch (value.type()) {
        case nlohmann::json::value_t::null: return "null";
        case nlohmann::json::value_t::object: return "an object";
        case nlohmann::json::value_t::array: return "an array";
        case nlohmann::json::value_t::string: kind = "the string "; break;
        case nlohmann::json::value_t::boolean: kind = "the boolean "; break;
        default: kind = "the number "; break;
    }
    std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return kind + text;
}

Expected<ProviderOptions> parse_provider_options(const nlohmann::json &object, std::string_view where,
                                                 std::string_view pointer) {
    ProviderOptions o;
    if (!object.is_object())
        return Status(Errc::config, std::string(where) + ": " + (pointer.empty() ? "/" : std::string(pointer)) +
                                        ": expected an object of options, got " + describe_json(object));
    static const char *known =
        "concurrency, chunk_size, retries, connect_timeout_ms, stall_timeout_ms, stall_min_speed, "
        "verify_cached_hash, durability, locking, lock_timeout_ms, fail_fast, max_blob_size, min_free_space, "
        "error_body_limit, error_body_timeout_ms, ca_file, user_agent";
    for (const auto &[key, v] : object.items()) {
        Status s;
        if (key == "concurrency") s = read_int(v, where, pointer, {"concurrency", 1, 256}, o.concurrency);
        else if (key == "chunk_size") s = read_int(v, where, pointer, {"chunk_size", 65536, 1 << 30}, o.chunk_size);
        else if (key == "retries") s = read_int(v, where, pointer, {"retries", 0, 100}, o.retries);
        else if (key == "connect_timeout_ms")
            s = read_int(v, where, pointer, {"connect_timeout_ms", 1, 600000}, o.connect_timeout_ms);
        else if (key == "stall_timeout_ms")
            s = read_int(v, where, pointer, {"stall_timeout_ms", 100, 3600000}, o.stall_timeout_ms);
        else if (key == "stall_min_speed")
            s = read_int(v, where, pointer, {"stall_min_speed", 0, std::numeric_limits<std::int32_t>::max()},
                         o.stall_min_speed);
        else if (key == "max_blob_size")
            s = read_int(v, where, pointer, {"max_blob_size", 1, std::int64_t{1} << 62}, o.max_blob_size);
        else if (key == "min_free_space")
            s = read_int(v, where, pointer, {"min_free_space", 0, std::int64_t{1} << 62}, o.min_free_space);
        else if (key == "error_body_limit")
            s = read_int(v, where, pointer, {"error_body_limit", 0, 16 << 20}, o.error_body_limit);
        else if (key == "error_body_timeout_ms")
            s = read_int(v, where, pointer, {"error_body_timeout_ms", 1, 600000}, o.error_body_timeout_ms);
        else if (key == "lock_timeout_ms")
            s = read_int(v, where, pointer, {"lock_timeout_ms", 0, 86400000}, o.lock_timeout_ms);
        else if (key == "verify_cached_hash" || key == "locking" || key == "fail_fast") {
            bool &out = key == "locking" ? o.locking : key == "fail_fast" ? o.fail_fast : o.verify_cached_hash;
            if (!v.is_boolean()) s = type_error(where, pointer, key, "true or false", v);
            else out = v.get<bool>();
        } else if (key == "durability") {
            if (!v.is_string() || (v != "strict" && v != "relaxed"))
                s = type_error(where, pointer, key, "\"strict\" or \"relaxed\"", v);
            else o.durability = v.get<std::string>();
        } else if (key == "ca_file" || key == "user_agent") {
            if (!v.is_string()) s = type_error(where, pointer, key, "a string", v);
            else (key == "ca_file" ? o.ca_file : o.user_agent) = v.get<std::string>();
        } else {
            s = Status(Errc::config, std::string(where) + ": " + std::string(pointer) + "/" + key +
                                         ": unknown option; known options are " + known);
        }
        if (!s.ok()) return s;
    }
    return o;
}

Expected<ProviderOptions> parse_provider_options_text(std::string_view json_text, std::string_view where) {
    if (json_text.find_first_not_of(" \t\r\n") == std::string_view::npos) return ProviderOptions{};
    try {
        return parse_provider_options(nlohmann::json::parse(json_text), where, "");
    } catch (const nlohmann::json::parse_error &e) {
        auto [line, col] = line_column(json_text, e.byte > 0 ? e.byte - 1 : 0);
        return Status(Errc::config, std::string(where) + ":" + std::to_string(line) + ":" + std::to_string(col) +
                                        ": invalid JSON: " + e.what());
    } catch (const nlohmann::json::exception &e) {  // e.g. a number too large for any type
        return Status(Errc::config, std::string(where) + ": invalid JSON: " + e.what());
    }
}

nlohmann::json to_json(const ProviderOptions &o) {
    return {{"concurrency", o.concurrency},
            {"chunk_size", o.chunk_size},
            {"retries", o.retries},
            {"connect_timeout_ms", o.connect_timeout_ms},
            {"stall_timeout_ms", o.stall_timeout_ms},
            {"stall_min_speed", o.stall_min_speed},
            {"verify_cached_hash", o.verify_cached_hash},
            {"durability", o.durability},
            {"locking", o.locking},
            {"lock_timeout_ms", o.lock_timeout_ms},
            {"fail_fast", o.fail_fast},
            {"max_blob_size", o.max_blob_size},
            {"min_free_space", o.min_free_space},
            {"error_body_limit", o.error_body_limit},
            {"error_body_timeout_ms", o.error_body_timeout_ms},
            {"ca_file", o.ca_file},
            {"user_agent", o.user_agent}};
}

}  // namespace blobfetch::config
