#pragma once
// vcpkg's binary source strings (VCPKG_BINARY_SOURCES, --binarysource), read
// as vcpkg-tool reads them; every rule below was checked against the real
// vcpkg (tests/integration/vcpkg_sources_test.cpp runs the same strings
// through both).
//
// `<source>;<source>;...`, each source `<kind>,<field>,...`, a backtick
// escaping the character after it (so "`," is a comma inside a field and "`;"
// a semicolon). An empty source (";;") is nothing; a blank one (" ") is an
// unknown kind, as for vcpkg. The kinds blobfetch reads from:
//
//   clear                                  drop every source before it
//   default[,<rw>]                         the default files cache (default_binary_cache)
//   files,<absolute path>[,<rw>]           <path>/<sha[0:2]>/<sha>.zip
//   http,<url_template>[,<rw>[,<header>]]  {name} {version} {sha} {triplet}
//   x-azblob,<baseuri>,<sas>[,<rw>]        <baseuri>/<sha>.zip?<sas>
//
// http templates are vcpkg's: "{{" and "}}" are literal braces, anything else
// ('$' too) is literal, a lone brace is an error; a template without {sha}
// gets "/{sha}.zip" appended (one with other variables but no {sha} is an
// error). Nothing is taken from the environment: "${env:X}" is the unknown
// variable "env:X", as for vcpkg. The header goes to libcurl as written, as
// vcpkg sends it (libcurl sends no line without ':'; a warning says so).
// x-azblob needs https:// (http://127.0.0.1 for Azurite) and a SAS without a
// leading '?'.
//
// <rw> is read, write or readwrite (default read); write-only sources are
// parsed but never read from. vcpkg's other kinds (nuget, x-gcs, x-aws, ...)
// are skipped with a warning. What vcpkg refuses is refused with vcpkg's own
// reason text, after where it came from and the source (secrets removed).
//
// Reading order (read_source_strings): vcpkg reads "default,readwrite" before
// any string, so the default cache is read unless a `clear` comes after it;
// and it reads by kind, whatever the written order: every files and default
// directory (in the order given), then every http and x-azblob template (in
// the order given). A manifest's own "sources" list is blobfetch's, not
// vcpkg's: it keeps its written order, ahead of what source strings add.

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
    // http: URL template (from a source string: vcpkg's, with "{sha}.zip"
    // appended when it had no {sha}); files: directory; x-azblob: base URI
    // as written.
    std::string location;
    std::string sas;       // x-azblob: Shared Access Signature (secret)
    bool read = true;
    bool write = false;
    // http: header lines (secret). From a source string: as written, sent as
    // they are; from a manifest's "sources": "Name: value", ${env:...}
    // expanded when resolved.
    std::vector<std::string> headers;
    std::string shown;     // the source as shown in messages: kind and location, no secret
    std::string pointer;   // a manifest "sources" entry's JSON pointer ("/sources/0"), else ""
    // A manifest "sources" entry: blobfetch's templates (${env:...}), kept in
    // written order. false: a vcpkg source string.
    bool listed = false;
    bool default_cache = false;  // `default`, or the one vcpkg reads before every string
    std::string unusable;        // default_cache only: why vcpkg would refuse it ("" if it would not)

    // The URL of `artifact` in this source; errors (Errc::config) name the
    // source. A listed source's ${env:...} is expanded with `env`, or left as
    // written when `env` is null. The artifact's values are percent-encoded
    // (encode_url_value in manifest.h) and may not choose the server
    // (check_values_in_path); its ABI key must be vcpkg's (is_abi_key), in
    // every layout.
    Expected<std::string> url_for(const Artifact &artifact,
                                  const std::function<std::optional<std::string>(std::string_view)> *env = nullptr) const;
};

struct ParsedSources {
    std::vector<BinarySource> sources;
    std::vector<std::string> warnings;  // skipped kinds, headers libcurl will not send, a default cache left out
};

// Looks up an environment variable (std::getenv by default).
using EnvFn = std::function<std::optional<std::string>(std::string_view)>;

// What reading sources looks at besides the text. Empty members use the
// real environment and file system.
struct SourceContext {
    EnvFn env;
    std::function<bool(const std::string &)> is_directory;
#ifdef _WIN32
    bool windows = true;  // vcpkg's Windows rules: absolute paths, the default cache's location
#else
    bool windows = false;
#endif
};

// Parses `text` and appends its sources to `previous` (`clear` drops them),
// in written order. `where` names the origin in messages
// ("VCPKG_BINARY_SOURCES", a manifest). Errors (Errc::config) quote the
// offending source with secrets removed.
Expected<ParsedSources> parse_binary_sources(std::string_view text, std::string_view where,
                                             std::vector<BinarySource> previous = {},
                                             const SourceContext &context = {});

// Puts `sources` in the order vcpkg reads them: listed sources first (as
// written), then files and default directories, then http and x-azblob
// templates, each group in its given order. Stable; pure.
void order_as_vcpkg_reads(std::vector<BinarySource> &sources);

struct SourceString {
    std::string where;  // "VCPKG_BINARY_SOURCES", "--binary-sources", "<manifest>: /binary_sources"
    std::string text;
};

// All of vcpkg's reading, on top of `previous` (a manifest's listed
// sources): "default,readwrite" first, then each string in order (`clear`
// drops everything before it, the default cache and `previous` included),
// then order_as_vcpkg_reads(). A default cache whose directory does not exist
// is left out, as vcpkg finds nothing there; one vcpkg would refuse (e.g.
// $VCPKG_DEFAULT_BINARY_CACHE naming no directory) is left out with a
// warning. A files directory given twice is read once.
Expected<ParsedSources> read_source_strings(const std::vector<SourceString> &strings,
                                            std::vector<BinarySource> previous = {},
                                            const SourceContext &context = {});

// vcpkg's default files cache: $VCPKG_DEFAULT_BINARY_CACHE when set and not
// empty (it must be an absolute path to a directory); else, on Windows,
// %LOCALAPPDATA%\vcpkg\archives (<parent of %APPDATA%>\Local\vcpkg\archives
// when LOCALAPPDATA is unset or empty), elsewhere
// $XDG_CACHE_HOME/vcpkg/archives (when set and not empty), else
// $HOME/.cache/vcpkg/archives; the base must be absolute.
struct DefaultCache {
    std::string path;     // "" when there is none
    std::string problem;  // why vcpkg refuses it (vcpkg's words where it has them), "" if it does not
};
DefaultCache default_binary_cache(const SourceContext &context);

}  // namespace blobfetch::config
