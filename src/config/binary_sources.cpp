#include "config/binary_sources.h"

#include <cstdlib>

#include "base/path_safety.h"
#include "config/manifest.h"

namespace blobfetch::config {
namespace {

// Splits a source string into sources and fields, honouring backtick escapes.
// A backtick at the very end is an error.
Expected<std::vector<std::vector<std::string>>> split(std::string_view text, std::string_view where) {
    std::vector<std::vector<std::string>> out(1, std::vector<std::string>(1));
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '`') {
            if (i + 1 == text.size())
                return Status(Errc::config, std::string(where) + ": the source string ends with an escape character "
                                                                 "(`); write `` for a literal backtick");
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
    else return bad(where, s.shown, "expected read, write or readwrite, got '" + rw + "'");
    return Status::success();
}

bool absolute_path(const std::string &p) {
    return (!p.empty() && p[0] == '/') ||
           (p.size() >= 3 && std::isalpha(static_cast<unsigned char>(p[0])) && p[1] == ':' && (p[2] == '/' || p[2] == '\\'));
}

std::string trim_slash(std::string s) {
    while (s.size() > 1 && (s.back() == '/' || s.back() == '\\')) s.pop_back();
    return s;
}

}  // namespace

std::string default_binary_cache(const EnvFn &env) {
    auto get = [&](const char *name) -> std::string {
        auto v = env ? env(name) : (std::getenv(name) ? std::optional<std::string>(std::getenv(name)) : std::nullopt);
        return v ? *v : std::string();
    };
    if (auto d = get("VCPKG_DEFAULT_BINARY_CACHE"); !d.empty()) return d;
    if (auto x = get("XDG_CACHE_HOME"); !x.empty()) return x + "/vcpkg/archives";
    return get("HOME") + "/.cache/vcpkg/archives";
}

Expected<std::string> BinarySource::url_for(const Artifact &artifact) const {
    switch (kind) {
        case SourceKind::http:
            return expand_template(location, artifact,
                                   pointer.empty() ? "binary source '" + shown + "'" : pointer + "/url");
        case SourceKind::files: {
            if (artifact.sha.size() < 2) return Status(Errc::config, "the ABI hash of '" + artifact.name + "' is too short");
            return file_url(location + "/" + artifact.sha.substr(0, 2) + "/" + artifact.sha + ".zip");
        }
        case SourceKind::azblob: {
            std::string token = sas;
            if (!token.empty() && token[0] == '?') token.erase(0, 1);
            return location + "/" + artifact.sha + ".zip" + (token.empty() ? "" : "?" + token);
        }
    }
    return Status(Errc::internal, "unknown source kind");
}

Expected<ParsedSources> parse_binary_sources(std::string_view text, std::string_view where,
                                             std::vector<BinarySource> previous, const EnvFn &env) {
    auto parts = split(text, where);
    if (!parts) return parts.status();
    ParsedSources out;
    out.sources = std::move(previous);
    for (const auto &f : *parts) {
        if (f.size() == 1 && f[0].find_first_not_of(" \t") == std::string::npos) continue;  // empty: ";;"
        const std::string &kind = f[0];
        BinarySource s;
        s.shown = kind + (f.size() > 1 ? "," + f[1] : std::string());
        if (kind == "clear") {
            if (f.size() != 1) return bad(where, s.shown, "clear takes no arguments");
            out.sources.clear();
            continue;
        }
        if (kind == "default") {
            if (f.size() > 2) return bad(where, kind, "expected default[,<rw>]");
            s.kind = SourceKind::files;
            s.location = trim_slash(default_binary_cache(env));
            s.shown = "default (" + s.location + ")";
            if (Status st = read_rw(f, 1, s, where); !st.ok()) return st;
        } else if (kind == "files") {
            if (f.size() < 2 || f.size() > 3) return bad(where, s.shown, "expected files,<absolute path>[,<rw>]");
            if (!absolute_path(f[1])) return bad(where, s.shown, "the path must be absolute");
            s.kind = SourceKind::files;
            s.location = trim_slash(f[1]);
            if (Status st = read_rw(f, 2, s, where); !st.ok()) return st;
        } else if (kind == "http") {
            if (f.size() < 2 || f.size() > 4)
                return bad(where, s.shown, "expected http,<url_template>[,<rw>[,<header>]]");
            if (f[1].rfind("http://", 0) != 0 && f[1].rfind("https://", 0) != 0)
                return bad(where, redact_url(s.shown), "the URL template must start with http:// or https://");
            s.kind = SourceKind::http;
            s.location = f[1];
            s.shown = "http," + redact_url(f[1]);
            if (Status st = read_rw(f, 2, s, where); !st.ok()) return st;
            if (f.size() == 4) {
                if (f[3].find(':') == std::string::npos)
                    return bad(where, s.shown, "the header must look like 'Name: value'");
                s.headers.push_back(f[3]);
            }
            // Validate the template once, with a placeholder artifact.
            Artifact probe{"n", "v", "t", "s", -1, {}, {}, {}};
            if (auto u = expand_template(s.location, probe, "binary source '" + s.shown + "'"); !u) return u.status();
        } else if (kind == "x-azblob") {
            if (f.size() < 3 || f.size() > 4) return bad(where, s.shown, "expected x-azblob,<baseuri>,<sas>[,<rw>]");
            if (f[1].rfind("https://", 0) != 0 && f[1].rfind("http://", 0) != 0)
                return bad(where, s.shown, "the base URI must start with https:// (or http://)");
            s.kind = SourceKind::azblob;
            s.location = trim_slash(f[1]);
            s.sas = f[2];
            s.shown = "x-azblob," + redact_url(f[1]);
            if (Status st = read_rw(f, 3, s, where); !st.ok()) return st;
        } else if (kind == "nuget" || kind == "nugetconfig" || kind == "nugettimeout" || kind == "interactive" ||
                   kind == "x-gcs" || kind == "x-aws" || kind == "x-aws-config" || kind == "x-cos" ||
                   kind == "x-gha" || kind == "x-az-universal" || kind == "x-azcopy" || kind == "x-azcopy-sas") {
            out.warnings.push_back(std::string(where) + ": binary source kind '" + kind +
                                   "' is not supported by blobfetch; skipped");
            continue;
        } else {
            return bad(where, kind, "unknown kind '" + kind +
                                        "'; blobfetch reads clear, default, files, http and x-azblob sources");
        }
        out.sources.push_back(std::move(s));
    }
    return out;
}

}  // namespace blobfetch::config
