#include "base/url.h"

#include <cctype>
#include <charconv>

namespace blobfetch {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string Origin::text() const {
    if (scheme == "file") return "file://";
    return scheme + "://" + host + ":" + std::to_string(port);
}

std::optional<Origin> url_origin(std::string_view url) {
    const std::size_t sep = url.find("://");
    if (sep == std::string_view::npos || sep == 0) return std::nullopt;
    Origin o;
    o.scheme = lower(url.substr(0, sep));
    if (o.scheme == "file") return o;
    if (o.scheme != "http" && o.scheme != "https") return std::nullopt;
    std::string_view rest = url.substr(sep + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    std::string_view host = authority, port;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port = after.substr(1);
        }
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) return std::nullopt;
    o.host = lower(host);
    o.port = o.scheme == "https" ? 443 : 80;
    if (!port.empty()) {
        int value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || end != port.data() + port.size() || value <= 0 || value > 65535) return std::nullopt;
        o.port = value;
    }
    return o;
}

bool same_origin(std::string_view a, std::string_view b) {
    const auto oa = url_origin(a), ob = url_origin(b);
    return oa && ob && *oa == *ob;
}

namespace {

// `text` with every byte for which `encode` holds written as %XX
// (upper-case hex), the others kept.
template <class Encode>
std::string percent_encode(std::string_view text, Encode encode) {
    static const char *kHex = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (!encode(c)) {
            out += ch;
            continue;
        }
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

}  // namespace

std::string normalize_url(std::string_view url) {
    return percent_encode(url, [](unsigned char c) { return c <= 0x20 || c >= 0x7f; });
}

std::string encode_url_value(std::string_view value) {
    return percent_encode(value, [](unsigned char c) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        return !unreserved;
    });
}

std::size_t server_part_end(std::string_view url) {
    std::size_t start = 0;
    if (const auto sep = url.find("://"); sep != std::string_view::npos && sep > 0) {
        // A scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986), else
        // the "://" is in the path or the query.
        bool scheme = std::isalpha(static_cast<unsigned char>(url[0])) != 0;
        for (std::size_t k = 1; scheme && k < sep; ++k) {
            const char c = url[k];
            scheme = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
        }
        if (scheme) start = sep + 3;
    }
    if (start == 0 && url.substr(0, 2) == "//") start = 2;  // a network-path reference: "//host/path"
    const auto end = url.find_first_of("/?#", start);
    return end == std::string_view::npos ? url.size() : end;
}

}  // namespace blobfetch
