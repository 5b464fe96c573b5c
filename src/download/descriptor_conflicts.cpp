#include "download/descriptor_conflicts.h"

#include <string>
#include <unordered_map>

#include "base/path_safety.h"

namespace blobfetch {
namespace {

std::string size_text(std::int64_t size) { return size < 0 ? "unknown" : std::to_string(size); }

}  // namespace

std::vector<std::size_t> descriptor_conflicts(const std::vector<BlobSpec> &specs) {
    std::vector<std::size_t> out(specs.size(), specs.size());
    std::unordered_map<std::string, std::size_t> first;  // path_key -> first descriptor
    first.reserve(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        auto [it, inserted] = first.emplace(path_key(specs[i].path), i);
        if (inserted) continue;
        const BlobSpec &a = specs[it->second], &b = specs[i];
        if (a.path != b.path || a.url != b.url || a.size != b.size || a.sha256 != b.sha256 || a.sha512 != b.sha512)
            out[i] = it->second;
    }
    return out;
}

Status descriptor_conflict_error(const BlobSpec &later, const BlobSpec &earlier) {
    if (later.path != earlier.path) return spelling_collision_error(later.path, earlier.path);
    std::string what;
    if (later.url != earlier.url)
        what = "URL '" + redact_url(later.url) + "' here, '" + redact_url(earlier.url) + "' earlier";
    else if (later.size != earlier.size)
        what = "size " + size_text(later.size) + " here, " + size_text(earlier.size) + " earlier";
    else if (later.sha256 != earlier.sha256)
        what = "another SHA-256 here than earlier";
    else
        what = "another SHA-512 here than earlier";
    return Status(Errc::invalid_argument,
                  "blob '" + later.path + "' is given twice with different descriptors (" + what +
                      "); one cache file cannot hold both: the earlier one is fetched, nothing "
                      "was written for the later one; fix the descriptors");
}

}  // namespace blobfetch
