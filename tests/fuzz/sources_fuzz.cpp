// Fuzz target: vcpkg binary source strings (separators, backtick escapes,
// kinds, fields) and the URLs they give an artifact. Any input must be
// refused with a message, or give sources whose URLs resolve or are refused
// with a message, and whose shown form carries no query string.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/binary_sources.h"
#include "config/manifest.h"

int blobfetch_fuzz_sources(const std::uint8_t *data, std::size_t size) {
    using namespace blobfetch::config;
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    const SourceContext context{[](std::string_view) { return std::optional<std::string>("/h"); },
                                [](const std::string &) { return true; }};
    auto parsed = parse_binary_sources(text, "fuzz", {}, context);
    if (!parsed.ok()) {
        if (parsed.message().empty()) std::abort();
        return 0;
    }
    const Artifact a{"name", "1.0", "x64-linux", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                     -1, {}, {}, {}, {}};
    for (const auto &s : parsed->sources) {
        // What is shown is built from the kind and the redacted location only
        // (never the SAS field; the unit tests check that with real tokens).
        if (s.kind == SourceKind::azblob && s.shown.rfind("x-azblob,", 0) != 0) std::abort();
        if (s.kind != SourceKind::files && s.shown.find('?') != std::string::npos) std::abort();
        auto url = s.url_for(a);
        if (!url.ok() && url.message().empty()) std::abort();
    }
    return 0;
}

#ifdef BLOBFETCH_FUZZ_MAIN
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    return blobfetch_fuzz_sources(data, size);
}
#endif
