#pragma once
// vcpkg's binary source strings (VCPKG_BINARY_SOURCES, --binarysource):
// `<source>;<source>;...`, each source `<kind>,<field>,...`, a backtick
// escaping the character after it (so "`," is a comma inside a field and "`;"
// a semicolon). The kinds blobfetch reads from:
//
//   clear                                  drop every source before it
//   default[,<rw>]                         the default files cache
//   files,<absolute path>[,<rw>]           <path>/<sha[0:2]>/<sha>.zip
//   http,<url_template>[,<rw>[,<header>]]  {name} {version} {sha} {triplet}
//   x-azblob,<baseuri>,<sas>[,<rw>]        <baseuri>/<sha>.zip?<sas>
//
// <rw> is read, write or readwrite (default read); write-only sources are
// parsed but never read from. vcpkg's other kinds (nuget, x-gcs, x-aws, ...)
// are skipped with a warning; an unknown word is an error.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace blobfetch::config {

struct Artifact;

enum class SourceKind { http, files, azblob };

struct BinarySource {
    SourceKind kind = SourceKind::http;
    std::string location;  // http: URL template; files: directory; x-azblob: base URI
    std::string sas;       // x-azblob: Shared Access Signature (secret)
    bool read = true;
    bool write = false;
    std::vector<std::string> headers;  // http: "Name: value" lines (secret; may hold ${env:...})
    std::string shown;     // the source as shown in messages: kind and location, no secret
    std::string pointer;   // a manifest "sources" entry's JSON pointer ("/sources/0"), else ""

    // The URL of `artifact` in this source (still holding any ${env:...});
    // errors name the source.
    Expected<std::string> url_for(const Artifact &artifact) const;
};

struct ParsedSources {
    std::vector<BinarySource> sources;
    std::vector<std::string> warnings;  // skipped kinds
};

// Looks up an environment variable (std::getenv by default).
using EnvFn = std::function<std::optional<std::string>(std::string_view)>;

// Parses `text` and appends its sources to `previous` (`clear` drops them).
// `where` names the origin in messages ("VCPKG_BINARY_SOURCES", a manifest).
// Errors (Errc::config) quote the offending source with secrets removed.
Expected<ParsedSources> parse_binary_sources(std::string_view text, std::string_view where,
                                             std::vector<BinarySource> previous = {}, const EnvFn &env = {});

// vcpkg's default files cache: $VCPKG_DEFAULT_BINARY_CACHE, else
// $XDG_CACHE_HOME/vcpkg/archives, else $HOME/.cache/vcpkg/archives.
std::string default_binary_cache(const EnvFn &env);

}  // namespace blobfetch::config
