#include "config/binary_sources.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "base/path_safety.h"
#include "base/url.h"
#include "config/manifest.h"

namespace blobfetch::config {
namespace {

// vcpkg's reasons, word for word (vcpkg-tool's messages, as the real vcpkg
// prints them; its spelling kept).
constexpr const char *kUnknownKind =
    "unknown binary provider type: valid providers are 'clear', 'default', 'nuget', 'nugetconfig', 'nugettimeout', "
    "'interactive', 'x-azblob', 'x-gcs', 'x-aws', 'x-aws-config', 'http', and 'files'";
constexpr const char *kBadRw = "unexpected argument: expected 'read', readwrite', or 'write'";
constexpr const char *kTrailingBacktick = "unexpected eof: trailing unescaped backticks (`) are not allowed";
constexpr const char *kMissingSha = "The {sha} variable must be used in the template if other variables are used.";

std::string invalid_argument(std::string_view kind, std::string_view what) {
    return "invalid argument: binary config '" + std::string(kind) + "' " + std::string(what);
}

// Splits a source string into sources and fields, honouring backtick escapes.
// A backtick at the very end is an error.
Expected<std::vector<std::vector<std::string>>> split(std::string_view text, std::string_view where) {
    std::vector<std::vector<std::string>> out(1, std::vector<std::string>(1));
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '`') {
            if (i + 1 == text.size())
                return Status(Errc::config, std::string(where) + ": " + kTrailingBacktick +
                                                " (write `` for a literal backtick)");
            out.back().back().push_back(text[++i]);
        } else if (c == ';') {
            out.emplace_back(1);
        } else if (c == ',') {
            out.back().emplace_back();
        } else {
            out.back().back().push_back(c);
        }
    }
    return out;
}

Status bad(std::string_view where, const std::string &source, const std::string &why) {
    return Status(Errc::config, std::string(where) + ": binary source '" + source + "': " + why);
}

// Reads the optional <rw> field.
Status read_rw(const std::vector<std::string> &f, std::size_t i, BinarySource &s, std::string_view where) {
    if (i >= f.size()) return Status::success();
    const std::string &rw = f[i];
    if (rw == "read") s.read = true, s.write = false;
    else if (rw == "write") s.read = false, s.write = true;
    else if (rw == "readwrite") s.read = true, s.write = true;
    else return bad(where, s.shown, kBadRw);
    return Status::success();
}

// vcpkg's Path::is_absolute: "/..." elsewhere; "X:\..." or "X:/..." or a UNC
// path on Windows.
bool is_absolute(std::string_view p, bool windows) {
    if (!windows) return !p.empty() && p[0] == '/';
    if (p.size() >= 2 && (p[0] == '/' || p[0] == '\\') && (p[1] == '/' || p[1] == '\\')) return true;
    return p.size() >= 3 && std::isalpha(static_cast<unsigned char>(p[0])) && p[1] == ':' &&
           (p[2] == '/' || p[2] == '\\');
}

std::string trim_slash(std::string s) {
    while (s.size() > 1 && (s.back() == '/' || s.back() == '\\')) s.pop_back();
    return s;
}

// vcpkg's api_stable_format over a URL template: "{{" -> "{", "}}" -> "}",
// "{var}" -> value(var); a lone '}', an unclosed '{' or a '{' inside a
// variable make it invalid. `vars` gets every variable, in order.
struct TemplateScan {
    bool valid = true;
    std::string out;
    std::vector<std::string> vars;
    std::vector<PlacedValue> placed;  // where each value starts in `out`
};
TemplateScan scan_template(std::string_view t, const std::function<std::string(std::string_view)> &value) {
    TemplateScan s;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (c == '}') {
            if (i + 1 < t.size() && t[i + 1] == '}') {
                s.out.push_back('}');
                ++i;
                continue;
            }
            s.valid = false;
            return s;
        }
        if (c != '{') {
            s.out.push_back(c);
            continue;
        }
        if (i + 1 < t.size() && t[i + 1] == '{') {
            s.out.push_back('{');
            ++i;
            continue;
        }
        const auto end = t.find_first_of("{}", i + 1);
        if (end == std::string_view::npos || t[end] != '}') {
            s.valid = false;
            return s;
        }
        const std::string_view var = t.substr(i + 1, end - i - 1);
        s.vars.emplace_back(var);
        s.placed.push_back({s.out.size(), std::string(var)});
        if (value) s.out += value(var);
        i = end;
    }
    return s;
}

bool known_variable(std::string_view v) { return v == "name" || v == "version" || v == "sha" || v == "triplet"; }

// Checks an http template as vcpkg does and returns it as vcpkg uses it
// ("{sha}.zip" appended when it has no {sha}).
Expected<std::string> vcpkg_http_template(std::string t, std::string_view where, const std::string &shown) {
    const TemplateScan scan = scan_template(t, {});
    if (!scan.valid) return bad(where, shown, "invalid format string: " + redact_url(t));
    std::string unknown;
    bool any_unknown = false, has_sha = false, has_other = false;
    for (const auto &v : scan.vars) {
        if (!known_variable(v)) {
            unknown += (any_unknown ? ", " : "") + v;
            any_unknown = true;
        }
        (v == "sha" ? has_sha : has_other) = true;
    }
    if (any_unknown)
        return bad(where, shown,
                   "invalid argument: url template '" + redact_url(t) + "' contains unknown variables: " + unknown);
    if (!has_sha) {
        if (has_other) return bad(where, shown, kMissingSha);
        if (t.back() != '/') t.push_back('/');
        t += "{sha}.zip";
    }
    return t;
}

std::string getenv_value(const SourceContext &c, const char *name) {
    if (c.env) return c.env(name).value_or("");
    const char *v = std::getenv(name);
    return v ? v : "";
}

bool directory_exists(const SourceContext &c, const std::string &path) {
    if (c.is_directory) return c.is_directory(path);
    std::error_code ec;
    return std::filesystem::is_directory(path, ec);
}

bool kind_skipped(std::string_view kind) {
    return kind == "nuget" || kind == "nugetconfig" || kind == "nugettimeout" || kind == "interactive" ||
           kind == "x-gcs" || kind == "x-aws" || kind == "x-aws-config" || kind == "x-cos" || kind == "x-gha" ||
           kind == "x-az-universal" || kind == "x-azcopy" || kind == "x-azcopy-sas";
}

}  // namespace

DefaultCache default_binary_cache(const SourceContext &context) {
    DefaultCache out;
    if (std::string d = getenv_value(context, "VCPKG_DEFAULT_BINARY_CACHE"); !d.empty()) {
        out.path = d;
        if (!directory_exists(context, d))
            out.problem = "Environment variable VCPKG_DEFAULT_BINARY_CACHE must be a directory (was: " + d + ")";
        else if (!is_absolute(d, context.windows))
            out.problem = "Environment variable VCPKG_DEFAULT_BINARY_CACHE must be absolute (was: " + d + ")";
        return out;
    }
    std::string base;
    if (context.windows) {
        base = getenv_value(context, "LOCALAPPDATA");
        if (base.empty()) {
            const std::string appdata = getenv_value(context, "APPDATA");
            if (appdata.empty()) {
                out.problem = "unable to read %LOCALAPPDATA% or %APPDATA%";
                return out;
            }
            const auto cut = trim_slash(appdata).find_last_of("/\\");
            base = (cut == std::string::npos ? std::string() : appdata.substr(0, cut + 1)) + "Local";
        }
    } else if (std::string x = getenv_value(context, "XDG_CACHE_HOME"); !x.empty()) {
        base = x;
    } else {
        const std::string home = getenv_value(context, "HOME");
        if (home.empty()) {
            out.problem = "unable to read $HOME";
            return out;
        }
        if (!is_absolute(home, context.windows)) {
            out.problem = "$HOME must be an absolute path (was: " + home + ")";
            return out;
        }
        base = home + "/.cache";
    }
    out.path = trim_slash(base) + (context.windows ? "\\vcpkg\\archives" : "/vcpkg/archives");
    if (!is_absolute(out.path, context.windows))
        out.problem = "the default binary cache must be an absolute path (was: " + out.path + ")";
    return out;
}

Expected<std::string> BinarySource::url_for(const Artifact &artifact, const EnvFn *env) const {
    // The key becomes a directory and a file name (files) or a URL path
    // segment (http, x-azblob): only vcpkg's 64 hex digits, whatever the layout.
    if (Status s = check_abi_key(artifact); !s.ok())
        return Status(s.code(), s.message() + " (binary source '" + shown + "')");
    switch (kind) {
        case SourceKind::http: {
            if (listed)
                return expand_url_template(location, artifact, env,
                                           pointer.empty() ? "source '" + shown + "'" : pointer + "/url",
                                           "source '" + shown + "'");
            std::string missing;
            const TemplateScan scan = scan_template(location, [&](std::string_view v) -> std::string {
                const std::string *value = artifact_value(artifact, v);  // (parsing let only the four through)
                if (!value || value->empty()) {
                    if (missing.empty()) missing = v;
                    return std::string();
                }
                return encode_url_value(*value);
            });
            if (!scan.valid) return Status(Errc::config, "binary source '" + shown + "': invalid format string");
            if (!missing.empty())
                return Status(Errc::config, "binary source '" + shown + "': the template uses {" + missing +
                                                "} but artifact '" + artifact.name + "' has no \"" + missing + "\"");
            if (Status s = check_values_in_path(scan.out, scan.placed, artifact, "binary source '" + shown + "'");
                !s.ok())
                return s;
            return scan.out;
        }
        case SourceKind::files:
            return file_url(location + "/" + artifact.sha.substr(0, 2) + "/" + artifact.sha + ".zip");
        case SourceKind::azblob:
            return location + (!location.empty() && location.back() == '/' ? "" : "/") + artifact.sha + ".zip?" + sas;
    }
    return Status(Errc::internal, "unknown source kind");
}

Expected<ParsedSources> parse_binary_sources(std::string_view text, std::string_view where,
                                             std::vector<BinarySource> previous, const SourceContext &context) {
    auto parts = split(text, where);
    if (!parts) return parts.status();
    ParsedSources out;
    out.sources = std::move(previous);
    for (const auto &f : *parts) {
        if (f.size() == 1 && f[0].empty()) continue;  // ";;" (a blank source is an unknown kind, as for vcpkg)
        const std::string &kind = f[0];
        BinarySource s;
        s.shown = kind + (f.size() > 1 ? "," + f[1] : std::string());
        if (kind == "clear") {
            if (f.size() != 1) return bad(where, s.shown, invalid_argument("clear", "does not take arguments"));
            out.sources.clear();
            continue;
        }
        if (kind == "default") {
            if (f.size() > 2) return bad(where, kind, invalid_argument("default", "does not take more than 1 argument"));
            const DefaultCache cache = default_binary_cache(context);
            s.kind = SourceKind::files;
            s.default_cache = true;
            s.location = trim_slash(cache.path);
            s.unusable = cache.problem;
            s.shown = "default (" + (s.location.empty() ? std::string("none") : s.location) + ")";
            if (Status st = read_rw(f, 1, s, where); !st.ok()) return st;
        } else if (kind == "files") {
            if (f.size() < 2) return bad(where, s.shown, invalid_argument("files", "requires at least one path argument"));
            if (!is_absolute(f[1], context.windows))
                return bad(where, s.shown,
                           invalid_argument("files", "path arguments for binary config strings must be absolute"));
            s.kind = SourceKind::files;
            s.location = trim_slash(f[1]);
            if (Status st = read_rw(f, 2, s, where); !st.ok()) return st;
            if (f.size() > 3) return bad(where, s.shown, invalid_argument("files", "requires 1 or 2 arguments"));
        } else if (kind == "http") {
            if (f.size() < 2) return bad(where, s.shown, invalid_argument("http", "requires at least one prefix"));
            s.shown = "http," + redact_url(f[1]);
            if (f[1].rfind("http://", 0) != 0 && f[1].rfind("https://", 0) != 0)
                return bad(where, s.shown, invalid_argument("http", "requires a https:// base url as the first argument"));
            if (f.size() > 4) return bad(where, s.shown, invalid_argument("http", "requires 2 or 3 arguments"));
            auto tmpl = vcpkg_http_template(f[1], where, s.shown);
            if (!tmpl) return tmpl.status();
            s.kind = SourceKind::http;
            s.location = std::move(*tmpl);
            if (f.size() == 4 && !f[3].empty()) {
                // As vcpkg: the field goes to libcurl as it is, which sends
                // "Name;" as an empty header and drops a line without ':'.
                if (f[3].find(':') == std::string::npos && f[3].back() != ';')
                    out.warnings.push_back(std::string(where) + ": binary source '" + s.shown +
                                           "': the header field has no ':', so it is sent by neither vcpkg nor "
                                           "blobfetch (libcurl drops it); write it as 'Name: value'");
                s.headers.push_back(f[3]);
            }
            if (Status st = read_rw(f, 2, s, where); !st.ok()) return st;
        } else if (kind == "x-azblob") {
            s.shown = "x-azblob" + (f.size() > 1 ? "," + redact_url(f[1]) : std::string());
            if (f.size() < 3)
                return bad(where, s.shown, invalid_argument("azblob", "requires at least a base-url and a SAS token"));
            // vcpkg lets plain http through for Azurite on 127.0.0.1 only.
            if (f[1].rfind("https://", 0) != 0 && f[1].rfind("http://127.0.0.1", 0) != 0)
                return bad(where, s.shown, invalid_argument("azblob", "requires a https:// base url as the first argument"));
            if (f[2].empty() || f[2][0] == '?')
                return bad(where, s.shown,
                           invalid_argument("azblob", "requires a SAS token without a preceeding '?' as the second argument"));
            if (f.size() > 4) return bad(where, s.shown, invalid_argument("azblob", "requires 2 or 3 arguments"));
            s.kind = SourceKind::azblob;
            s.location = f[1];
            s.sas = f[2];
            if (Status st = read_rw(f, 3, s, where); !st.ok()) return st;
        } else if (kind_skipped(kind)) {
            out.warnings.push_back(std::string(where) + ": binary source kind '" + kind +
                                   "' is not supported by blobfetch; skipped");
            continue;
        } else {
            return bad(where, kind, std::string(kUnknownKind) + " (blobfetch reads clear, default, files, http and "
                                                                 "x-azblob, and skips vcpkg's other kinds)");
        }
        out.sources.push_back(std::move(s));
    }
    return out;
}

void order_as_vcpkg_reads(std::vector<BinarySource> &sources) {
    auto rank = [](const BinarySource &s) { return s.listed ? 0 : s.kind == SourceKind::files ? 1 : 2; };
    std::stable_sort(sources.begin(), sources.end(),
                     [&](const BinarySource &a, const BinarySource &b) { return rank(a) < rank(b); });
}

Expected<ParsedSources> read_source_strings(const std::vector<SourceString> &strings, std::vector<BinarySource> previous,
                                            const SourceContext &context) {
    auto first = parse_binary_sources("default,readwrite", "<defaults>", std::move(previous), context);
    if (!first) return first.status();
    ParsedSources out = std::move(*first);
    for (const auto &s : strings) {
        auto parsed = parse_binary_sources(s.text, s.where, std::move(out.sources), context);
        if (!parsed) return parsed.status();
        out.sources = std::move(parsed->sources);
        out.warnings.insert(out.warnings.end(), parsed->warnings.begin(), parsed->warnings.end());
    }
    std::vector<BinarySource> kept;
    std::set<std::string> problems, read_dirs;
    for (auto &s : out.sources) {
        if (s.default_cache && !s.unusable.empty()) {
            if (problems.insert(s.unusable).second)
                out.warnings.push_back("the default binary cache is not read: " + s.unusable +
                                       " (vcpkg stops with this error)");
            continue;
        }
        if (s.default_cache && !directory_exists(context, s.location)) continue;  // vcpkg finds nothing there
        if (s.kind == SourceKind::files && s.read && !read_dirs.insert(s.location).second) continue;
        kept.push_back(std::move(s));
    }
    out.sources = std::move(kept);
    order_as_vcpkg_reads(out.sources);
    return out;
}

}  // namespace blobfetch::config
