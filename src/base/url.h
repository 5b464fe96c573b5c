#pragma once
// URLs as blobfetch reasons about them: the origin a secret is bound to, and
// the normalisation vcpkg and curl's command line apply before a request.
// Pure functions; no libcurl (the config library and the host use them too).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace blobfetch {

// The origin of a URL (RFC 6454): scheme, host and port, lower-cased, with the
// scheme's default port filled in (http 80, https 443). Credentials, path,
// query and fragment are not part of it. Request headers and URL credentials
// configured for one origin are sent to that origin only.
struct Origin {
    std::string scheme;  // "http", "https", "file"
    std::string host;    // lower-case; an IPv6 literal keeps its brackets; "" for file
    int port = 0;        // 0 for file

    bool operator==(const Origin &) const = default;
    // "https://cache.example.com:443"
    std::string text() const;
};

// The origin of an absolute http(s) or file URL; nullopt for anything else
// (a relative reference, an unknown scheme, an unparsable port).
std::optional<Origin> url_origin(std::string_view url);

// True when both URLs have an origin and it is the same one.
bool same_origin(std::string_view a, std::string_view b);

// Percent-encodes what libcurl refuses raw in a URL (a space, control
// characters and DEL) and bytes >= 0x80, as vcpkg and curl's command line do
// before sending it; everything else, existing %XX escapes and the braces
// vcpkg sends raw in its binary-cache requests included, is kept as it is.
// "http://h/a b" -> "http://h/a%20b".
std::string normalize_url(std::string_view url);

// `value` percent-encoded to be one piece of a URL: every byte but
// A-Z a-z 0-9 - . _ ~ as %XX (upper-case hex), so nothing in it is URL
// syntax. Pure.
std::string encode_url_value(std::string_view value);

// The end of the part of `url` that chooses the server: its scheme and
// authority ("https://h:1" of "https://h:1/p?q"); for a URL without a scheme,
// what precedes its first '/', '?' or '#' (libcurl would read that as a host,
// as it reads "//h/p"). Pure.
std::size_t server_part_end(std::string_view url);

}  // namespace blobfetch
