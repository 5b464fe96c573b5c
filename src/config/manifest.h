#pragma once
// Manifests: what the reference host reads to know which artifacts to fetch,
// from where, into which cache. JSON (nlohmann-json); the schema is
// manifests/manifest.schema.json.
//
//   {
//     "version": 1,                         required, must be 1
//     "cache_dir": "cache",                 required; relative to the manifest's directory
//     "cache_path": "{name}/{sha}.zip",     optional template of each blob's path in the cache
//     "sources": [                          required, at least one (the first builds URLs)
//       { "name": "local",                  optional label
//         "url": "http://127.0.0.1:8080/{name}/{sha}.zip",   URL template
//         "headers": ["Authorization: Bearer ${env:TOKEN}"] } optional
//     ],
//     "options": { ... },                   optional provider options (provider_options.h)
//     "artifacts": [                        required (may be empty)
//       { "name": "zlib", "version": "1.3.1", "triplet": "x64-linux",
//         "sha": "<ABI key: 64 lower-case hex>",   vcpkg's (a SHA-256)
//         "size": 123,                      optional, >= 0
//         "sha256": "<64 hex>",             optional (recommended)
//         "url": "...", "path": "..." }     optional per-artifact template overrides
//     ]
//   }
//
// Templates use vcpkg's variables {name}, {version}, {sha}, {triplet}; any
// other variable is an error. "${env:NAME}" in a source's url and headers (and
// an artifact's own url) is replaced by an environment variable, so secrets
// stay out of manifests.
//
// An artifact's values are data, never template text: "${env:...}" in a
// value stays as written. In a URL a value is percent-encoded (all but
// A-Z a-z 0-9 - . _ ~), so '/', '?', '#', '@', ':' and '%' in it never change
// the URL's structure; and the server is the template's to choose: a value
// that would land in the scheme, host or port part is refused (the template
// may use variables only in the path and the query). The ABI key must be
// vcpkg's: 64 lower-case hex digits.
// Every error names the file and the JSON pointer (or line:column for syntax
// errors), the field, and what was expected; header values are never echoed.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "config/binary_sources.h"
#include "config/provider_options.h"

namespace blobfetch::config {

struct Source {
    std::string name;
    std::string url_template;
    std::vector<std::string> headers;  // "Name: value", ${env:...} not yet expanded
};

struct Artifact {
    std::string name, version, triplet, sha;
    std::int64_t size = -1;
    std::string sha256;  // lower-case hex or ""
    std::string url_override, path_override;
    std::string pointer;  // its JSON pointer in the manifest ("/artifacts/3"), for messages; "" if not from one
};

struct Manifest {
    std::filesystem::path file;
    std::filesystem::path cache_dir;  // resolved against the manifest's directory
    std::string cache_path_template = "{name}/{sha}.zip";
    std::vector<Source> sources;
    // "sources" as listed sources (http), in written order.
    std::vector<BinarySource> listed_sources;
    // "binary_sources" as written (a vcpkg source string), if any.
    std::optional<std::string> binary_sources;
    // What the manifest alone reads: listed_sources, then what
    // "binary_sources" adds (`clear` drops the ones before it), in vcpkg's
    // read order (order_as_vcpkg_reads). Without vcpkg's default cache, which
    // depends on the machine: read_source_strings() adds it.
    std::vector<BinarySource> source_list;
    std::vector<std::string> source_warnings;
    nlohmann::json options = nlohmann::json::object();
    ProviderOptions provider_options;
    std::vector<Artifact> artifacts;
};

// One place a blob can be fetched from.
struct Candidate {
    std::string source;   // the source as shown in messages (no secrets)
    std::string url;
    std::string headers;  // "Name: value" lines joined by '\n' (secrets expanded)
    bool quiet_miss = false;  // vcpkg's default cache: a blob not found there is no news
};

struct ResolvedBlob {
    std::string name;     // the artifact's name
    std::string url;      // = candidates[0].url
    std::string path;     // relative to cache_dir, checked safe
    std::int64_t size = -1;
    std::string sha256;
    std::string headers;  // = candidates[0].headers
    std::vector<Candidate> candidates;  // every readable source, in order: tried one after the other
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

// Reads and parses a manifest file. An unreadable file is Errc::invalid_argument.
Expected<Manifest> load_manifest(const std::filesystem::path &file);
// Parses manifest text; `file` is used for messages and to resolve cache_dir.
Expected<Manifest> parse_manifest(std::string_view text, const std::filesystem::path &file);
// Builds one blob per artifact, with a candidate URL per readable source of
// `sources` (default: the manifest's source_list). `env` (default getenv)
// expands ${env:...} in listed sources only: source strings are read as
// vcpkg reads them, literally. An artifact's own "url" is its only candidate.
Expected<std::vector<ResolvedBlob>> resolve_manifest(const Manifest &manifest, const EnvLookup &env = {},
                                                     const std::vector<BinarySource> *sources = nullptr);
// The value of template variable `var` ({name}, {version}, {sha},
// {triplet}) of `artifact`; nullptr for any other name. Pure.
const std::string *artifact_value(const Artifact &artifact, std::string_view var);
// Expands {name}/{version}/{sha}/{triplet} for one artifact, values as they
// are (a cache path; "${...}" is left as written). Pure.
Expected<std::string> expand_template(std::string_view tmpl, const Artifact &artifact, std::string_view where);
// The URL of `artifact` from a blobfetch URL template `tmpl`, in one pass:
// "${env:NAME}" of the template is replaced by the variable's value (with
// `env`; left as written when `env` is null), a variable by the artifact's
// value, percent-encoded (encode_url_value). A value that would choose the
// server (check_values_in_path) is refused naming the artifact and `source`
// (the template's owner, as shown), once no "${env:...}" is left unexpanded
// (before that, where the server is chosen is not known yet). Pure given `env`.
Expected<std::string> expand_url_template(std::string_view tmpl, const Artifact &artifact, const EnvLookup *env,
                                          std::string_view where, std::string_view source);
// Expands ${env:NAME}. Pure given `env`.
Expected<std::string> expand_env(std::string_view text, const EnvLookup &env, std::string_view where);

// Whether `key` is an ABI key as vcpkg makes them: a SHA-256 in 64
// lower-case hexadecimal digits. (It becomes a file name, a directory and a
// URL path segment: nothing else is ever let through.)
bool is_abi_key(std::string_view key);
// `artifact`'s ABI key checked (is_abi_key); the error names the key and the
// artifact.
Status check_abi_key(const Artifact &artifact);
// Fails (Errc::config) when a value placed at one of `starts` (offsets into
// `url`, the variable's name beside each) lies in url's server part
// (server_part_end() of base/url.h), naming
// `artifact`, the variable and `source`.
struct PlacedValue {
    std::size_t at;
    std::string variable;  // "name", "version", "sha", "triplet"
};
Status check_values_in_path(std::string_view url, const std::vector<PlacedValue> &placed, const Artifact &artifact,
                            std::string_view source);

}  // namespace blobfetch::config
