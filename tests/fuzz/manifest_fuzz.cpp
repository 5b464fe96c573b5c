// Fuzz target: the manifest and provider-options parsers, then resolution
// (URL and path templates, ${env:...}). Any input must be refused with a
// message naming the file, or resolve to blobs whose paths are confined to
// the cache directory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/path_safety.h"
#include "config/manifest.h"
#include "config/provider_options.h"

int blobfetch_fuzz_manifest(const std::uint8_t *data, std::size_t size) {
    using namespace blobfetch;
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    auto options = config::parse_provider_options_text(text, "fuzz options");
    if (!options.ok() && options.message().empty()) std::abort();
    auto m = config::parse_manifest(text, "/fuzz/manifest.json");
    if (!m.ok()) {
        if (m.message().find("manifest.json") == std::string::npos) std::abort();  // errors name the file
        return 0;
    }
    auto blobs = config::resolve_manifest(*m, [](std::string_view name) -> std::optional<std::string> {
        if (name == "UNSET") return std::nullopt;
        return std::string("value-of-") + std::string(name);
    });
    if (!blobs.ok()) {
        if (blobs.message().empty()) std::abort();
        return 0;
    }
    for (const auto &b : *blobs)
        if (!check_relative_path(b.path).ok()) std::abort();  // never a path outside the cache
    return 0;
}

#ifdef BLOBFETCH_FUZZ_MAIN
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    return blobfetch_fuzz_manifest(data, size);
}
#endif
