#include "config/manifest.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "base/path_safety.h"
#include "base/url.h"
#include "io/file.h"

namespace blobfetch::config {
namespace {

namespace fs = std::filesystem;

// Error context: the file and JSON pointers for messages.
struct Ctx {
    std::string file;
    Status error(const std::string &pointer, const std::string &what, Errc code = Errc::config) const {
        return Status(code, file + ": " + (pointer.empty() ? "/" : pointer) + ": " + what);
    }
};

bool is_hex64(const std::string &s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// An ABI key as messages show it: a JSON string (control bytes escaped), cut
// to 100 characters.
std::string shown_key(const std::string &key) {
    std::string text = nlohmann::json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > 100) text = text.substr(0, 97) + "...";
    return text;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
            return false;
    return true;
}

Status check_keys(const nlohmann::json &obj, const std::string &pointer, std::initializer_list<const char *> known,
                  const Ctx &ctx) {
    for (const auto &[key, v] : obj.items()) {
        bool ok = false;
        for (const char *k : known) ok |= key == k;
        if (!ok) {
            std::string list;
            for (const char *k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            return ctx.error(pointer + "/" + key, "unknown field; known fields are " + list);
        }
    }
    return Status::success();
}

// Reads a required or optional string field.
Status get_string(const nlohmann::json &obj, const std::string &pointer, const char *key, bool required,
                  std::string &out, const Ctx &ctx) {
    auto it = obj.find(key);
    if (it == obj.end()) {
        return required ? ctx.error(pointer + "/" + key, std::string("missing required field \"") + key +
                                                             "\" (a string)")
                        : Status::success();
    }
    if (!it->is_string()) return ctx.error(pointer + "/" + key, "expected a string, got " + describe_json(*it));
    out = it->get<std::string>();
    return Status::success();
}

Expected<Source> parse_source(const nlohmann::json &j, const std::string &ptr, const Ctx &ctx) {
    if (!j.is_object()) return ctx.error(ptr, "expected a source object, got " + describe_json(j));
    if (Status s = check_keys(j, ptr, {"name", "url", "headers"}, ctx); !s.ok()) return s;
    Source src;
    if (Status s = get_string(j, ptr, "name", false, src.name, ctx); !s.ok()) return s;
    if (Status s = get_string(j, ptr, "url", true, src.url_template, ctx); !s.ok()) return s;
    if (auto it = j.find("headers"); it != j.end()) {
        if (!it->is_array()) return ctx.error(ptr + "/headers", "expected an array of \"Name: value\" strings, got " + describe_json(*it));
        for (std::size_t i = 0; i < it->size(); ++i) {
            const std::string hp = ptr + "/headers/" + std::to_string(i);
            const auto &h = (*it)[i];
            if (!h.is_string()) return ctx.error(hp, "expected a \"Name: value\" string, got " + describe_json(h));
            std::string line = h.get<std::string>();
            auto colon = line.find(':');
            if (colon == std::string::npos || !is_token(std::string_view(line).substr(0, colon)) ||
                line.find_first_of("\r\n") != std::string::npos)
                return ctx.error(hp, "expected a header line \"Name: value\" with a token name and no line breaks "
                                     "(the value is not shown because it may be secret)");
            src.headers.push_back(std::move(line));
        }
    }
    return src;
}

Expected<Artifact> parse_artifact(const nlohmann::json &j, const std::string &ptr, const Ctx &ctx) {
    if (!j.is_object()) return ctx.error(ptr, "expected an artifact object, got " + describe_json(j));
    if (Status s = check_keys(j, ptr, {"name", "version", "triplet", "sha", "size", "sha256", "url", "path"}, ctx);
        !s.ok())
        return s;
    Artifact a;
    for (auto [key, out, required] : {std::tuple{"name", &a.name, true}, std::tuple{"version", &a.version, false},
                                      std::tuple{"triplet", &a.triplet, false}, std::tuple{"sha", &a.sha, true},
                                      std::tuple{"url", &a.url_override, false},
                                      std::tuple{"path", &a.path_override, false}})
        if (Status s = get_string(j, ptr, key, required, *out, ctx); !s.ok()) return s;
    a.pointer = ptr;
    if (a.name.empty()) return ctx.error(ptr + "/name", "the artifact name must not be empty");
    if (!is_abi_key(a.sha))
        return ctx.error(ptr + "/sha", "expected an ABI key as vcpkg makes them, 64 lower-case hexadecimal digits "
                                       "(a SHA-256), got " + shown_key(a.sha));
    if (auto it = j.find("size"); it != j.end()) {
        if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
            return ctx.error(ptr + "/size", "expected a size in bytes (an integer >= 0), got " + describe_json(*it));
        a.size = it->get<std::int64_t>();
    }
    if (Status s = get_string(j, ptr, "sha256", false, a.sha256, ctx); !s.ok()) return s;
    if (j.contains("sha256")) {
        if (!is_hex64(a.sha256))
            return ctx.error(ptr + "/sha256", "expected exactly 64 hexadecimal digits (a SHA-256), got " +
                                                  describe_json(j["sha256"]));
        for (char &c : a.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return a;
}

std::optional<std::string> getenv_lookup(std::string_view name) {
    const char *v = std::getenv(std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
}

}  // namespace

namespace {

// The value of a "${env:NAME}" reference; the error names `where`.
Expected<std::string> env_value(std::string_view name, const EnvLookup &env, std::string_view where) {
    auto value = env ? env(name) : getenv_lookup(name);
    if (!value)
        return Status(Errc::config, std::string(where) + ": environment variable " + std::string(name) +
                                        " is not set; export it before running blobfetch");
    return std::move(*value);
}

// How expand() treats a template: a cache path's (values as they are,
// "${...}" left as written) or a URL's (values percent-encoded and placed,
// "${env:NAME}" expanded when `env` is given).
struct UrlExpansion {
    const EnvLookup *env = nullptr;
    std::vector<PlacedValue> placed;  // where each value starts in the result
    bool env_left = false;            // a "${env:...}" was left as written
};

// The one pass over a template both expand_template() and
// expand_url_template() make; `url` null: a cache path.
Expected<std::string> expand(std::string_view tmpl, const Artifact &a, std::string_view where, UrlExpansion *url) {
    const std::string shown_tmpl = url ? redact_url(tmpl) : std::string(tmpl);
    std::string out;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        const char c = tmpl[i];
        if (c == '$' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
            const auto end = tmpl.find('}', i);
            const bool env_ref = tmpl.compare(i, 6, "${env:") == 0;
            if (end == std::string_view::npos) {
                if (!url) break;
                if (env_ref) return Status(Errc::config, std::string(where) + ": unterminated \"${env:\"");
                out.append(tmpl.substr(i));
                break;
            }
            if (url && env_ref && url->env) {
                auto value = env_value(tmpl.substr(i + 6, end - i - 6), *url->env, where);
                if (!value) return value.status();
                out += *value;  // the template's own text: trusted, taken as it is
            } else {
                if (url) url->env_left |= env_ref;
                out.append(tmpl.substr(i, end - i + 1));  // left as written
            }
            i = end;
            continue;
        }
        if (c == '}') return Status(Errc::config, std::string(where) + ": unmatched '}' in template \"" + shown_tmpl + "\"");
        if (c != '{') {
            out.push_back(c);
            continue;
        }
        const auto end = tmpl.find('}', i);
        if (end == std::string_view::npos)
            return Status(Errc::config, std::string(where) + ": unterminated '{' in template \"" + shown_tmpl + "\"");
        const std::string_view var = tmpl.substr(i + 1, end - i - 1);
        const std::string *value = artifact_value(a, var);
        if (!value)
            return Status(Errc::config, std::string(where) + ": unknown template variable {" + std::string(var) +
                                            "}; allowed are {name}, {version}, {sha}, {triplet}");
        if (value->empty())
            return Status(Errc::config, std::string(where) + ": the template uses {" + std::string(var) +
                                            "} but artifact '" + a.name + "' has no \"" + std::string(var) + "\"");
        if (value == &a.sha)
            if (Status s = check_abi_key(a); !s.ok())
                return url ? s : Status(s.code(), std::string(where) + ": " + s.message());
        if (url) {
            url->placed.push_back({out.size(), std::string(var)});
            out += encode_url_value(*value);
        } else {
            out += *value;
        }
        i = end;
    }
    return out;
}

}  // namespace

const std::string *artifact_value(const Artifact &a, std::string_view var) {
    return var == "name"      ? &a.name
           : var == "version" ? &a.version
           : var == "sha"     ? &a.sha
           : var == "triplet" ? &a.triplet
                              : nullptr;
}

Expected<std::string> expand_template(std::string_view tmpl, const Artifact &a, std::string_view where) {
    return expand(tmpl, a, where, nullptr);
}

Expected<std::string> expand_url_template(std::string_view tmpl, const Artifact &a, const EnvLookup *env,
                                          std::string_view where, std::string_view source) {
    UrlExpansion url;
    url.env = env;
    auto out = expand(tmpl, a, where, &url);
    if (!out || url.env_left) return out;
    if (Status s = check_values_in_path(*out, url.placed, a, source); !s.ok()) return s;
    return out;
}

bool is_abi_key(std::string_view key) {
    if (key.size() != 64) return false;
    for (const char c : key)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

namespace {
// "/artifacts/3: artifact 'zlib'" (the pointer when known).
std::string artifact_shown(const Artifact &a) {
    return (a.pointer.empty() ? std::string() : a.pointer + ": ") + "artifact '" + a.name + "'";
}
}  // namespace

Status check_abi_key(const Artifact &a) {
    if (is_abi_key(a.sha)) return Status::success();
    return Status(Errc::config, artifact_shown(a) + ": its ABI key " + shown_key(a.sha) +
                                    " is not one vcpkg makes (64 lower-case hexadecimal digits, a SHA-256); it "
                                    "becomes a file name and a URL path, so nothing else is used");
}

Status check_values_in_path(std::string_view url, const std::vector<PlacedValue> &placed, const Artifact &a,
                            std::string_view source) {
    const std::size_t server = server_part_end(url);
    for (const auto &p : placed) {
        if (p.at >= server) continue;
        return Status(Errc::config,
                      artifact_shown(a) + ": " + std::string(source) + " puts {" + p.variable +
                          "} where the URL names its server (the scheme, host or port), so the artifact's " +
                          p.variable + " would choose where the request and the source's headers go; refused: a "
                          "template may use {name}, {version}, {sha} and {triplet} only in the path and the query");
    }
    return Status::success();
}

Expected<std::string> expand_env(std::string_view text, const EnvLookup &env, std::string_view where) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 6, "${env:") != 0) {
            out.push_back(text[i]);
            continue;
        }
        auto end = text.find('}', i);
        if (end == std::string_view::npos)
            return Status(Errc::config, std::string(where) + ": unterminated \"${env:\"");
        auto value = env_value(text.substr(i + 6, end - i - 6), env, where);
        if (!value) return value.status();
        out += *value;
        i = end;
    }
    return out;
}

namespace {
Expected<Manifest> parse_manifest_document(std::string_view text, const fs::path &file);
}

Expected<Manifest> parse_manifest(std::string_view text, const fs::path &file) {
    try {
        return parse_manifest_document(text, file);
    } catch (const nlohmann::json::exception &e) {
        // e.g. a number too large for any type (out_of_range while parsing).
        std::string what = e.what();
        auto cut = what.find("] ");  // drop nlohmann's "[json.exception...]" prefix
        return Status(Errc::config, file.string() + ": invalid JSON: " +
                                        (cut == std::string::npos ? what : what.substr(cut + 2)));
    }
}

namespace {

Expected<Manifest> parse_manifest_document(std::string_view text, const fs::path &file) {
    Ctx ctx{file.string()};
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error &e) {
        auto [line, col] = line_column(text, e.byte > 0 ? e.byte - 1 : 0);
        std::string what = e.what();
        auto cut = what.find("parse error");  // drop nlohmann's "[json.exception...]" prefix
        return Status(Errc::config, ctx.file + ":" + std::to_string(line) + ":" + std::to_string(col) +
                                        ": invalid JSON: " + (cut == std::string::npos ? what : what.substr(cut)));
    }
    if (!root.is_object()) return ctx.error("", "expected a manifest object, got " + describe_json(root));
    if (Status s = check_keys(root, "", {"$schema", "version", "cache_dir", "cache_path", "sources", "binary_sources",
                                         "options", "artifacts"}, ctx);
        !s.ok())
        return s;
    Manifest m;
    m.file = file;
    auto version = root.find("version");
    if (version == root.end()) return ctx.error("/version", "missing required field \"version\" (must be 1)");
    if (!version->is_number_integer() || version->get<std::int64_t>() != 1)
        return ctx.error("/version", "unsupported manifest version " + describe_json(*version) + "; this blobfetch reads version 1");
    std::string cache_dir;
    if (Status s = get_string(root, "", "cache_dir", true, cache_dir, ctx); !s.ok()) return s;
    if (cache_dir.empty()) return ctx.error("/cache_dir", "must not be empty");
    const fs::path cd = path_from_utf8(cache_dir);  // (UTF-8, also where paths are UTF-16)
    m.cache_dir = cd.is_absolute() ? cd : (file.parent_path() / cd).lexically_normal();
    if (m.cache_dir.empty()) m.cache_dir = ".";
    if (Status s = get_string(root, "", "cache_path", false, m.cache_path_template, ctx); !s.ok()) return s;

    auto sources = root.find("sources");
    auto binary = root.find("binary_sources");
    if (sources == root.end() && binary == root.end())
        return ctx.error("/sources", "missing required field \"sources\" (an array of sources) or \"binary_sources\" "
                                     "(a vcpkg source string)");
    if (sources != root.end()) {
        if (!sources->is_array() || sources->empty())
            return ctx.error("/sources", "expected a non-empty array of sources, got " + describe_json(*sources));
        for (std::size_t i = 0; i < sources->size(); ++i) {
            auto src = parse_source((*sources)[i], "/sources/" + std::to_string(i), ctx);
            if (!src) return src.status();
            BinarySource bs;
            bs.kind = SourceKind::http;
            bs.location = src->url_template;
            bs.headers = src->headers;
            bs.shown = (src->name.empty() ? "source " + std::to_string(i) : src->name) + " (" +
                       redact_url(src->url_template) + ")";
            bs.pointer = "/sources/" + std::to_string(i);
            bs.listed = true;
            m.listed_sources.push_back(std::move(bs));
            m.sources.push_back(std::move(*src));
        }
    }
    if (binary != root.end()) {
        if (!binary->is_string())
            return ctx.error("/binary_sources", "expected a vcpkg binary source string, got " + describe_json(*binary));
        m.binary_sources = binary->get<std::string>();
        auto parsed = parse_binary_sources(*m.binary_sources, ctx.file + ": /binary_sources", m.listed_sources);
        if (!parsed) return parsed.status();
        m.source_list = std::move(parsed->sources);
        order_as_vcpkg_reads(m.source_list);
        m.source_warnings = std::move(parsed->warnings);
    } else {
        m.source_list = m.listed_sources;
    }
    if (auto it = root.find("options"); it != root.end()) {
        auto opts = parse_provider_options(*it, ctx.file, "/options");
        if (!opts) return opts.status();
        m.options = *it;
        m.provider_options = *opts;
    }
    auto artifacts = root.find("artifacts");
    if (artifacts == root.end()) return ctx.error("/artifacts", "missing required field \"artifacts\" (an array)");
    if (!artifacts->is_array()) return ctx.error("/artifacts", "expected an array of artifacts, got " + describe_json(*artifacts));
    for (std::size_t i = 0; i < artifacts->size(); ++i) {
        auto a = parse_artifact((*artifacts)[i], "/artifacts/" + std::to_string(i), ctx);
        if (!a) return a.status();
        m.artifacts.push_back(std::move(*a));
    }
    // Templates are checked now so that bad input fails before anything runs.
    for (std::size_t i = 0; i < m.artifacts.size(); ++i) {
        const Artifact &a = m.artifacts[i];
        const std::string ap = "/artifacts/" + std::to_string(i);
        auto path = expand_template(a.path_override.empty() ? m.cache_path_template : a.path_override, a,
                                    ctx.file + ": " + (a.path_override.empty() ? "/cache_path" : ap + "/path"));
        if (!path) return path.status();
        if (Status s = check_relative_path(*path); !s.ok())
            return ctx.error(ap, "artifact '" + a.name + "': " + s.message(), Errc::unsafe_path);
        if (!a.url_override.empty()) {
            if (auto url = expand_url_template(a.url_override, a, nullptr, ap + "/url", "its own \"url\"");
                !url)
                return Status(url.status().code(), ctx.file + ": " + url.message());
        }
        for (const auto &src : m.source_list)
            if (auto url = src.url_for(a); !url) return Status(url.status().code(), ctx.file + ": " + url.message());
    }
    return m;
}

}  // namespace

Expected<Manifest> load_manifest(const fs::path &file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::error_code ec;
        std::string why = fs::exists(file, ec) ? "it cannot be read (check permissions)" : "no such file";
        return Status(Errc::invalid_argument, "cannot read manifest '" + file.string() + "': " + why);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_manifest(ss.str(), file);
}

Expected<std::vector<ResolvedBlob>> resolve_manifest(const Manifest &m, const EnvLookup &env,
                                                     const std::vector<BinarySource> *sources) {
    const std::vector<BinarySource> &list = sources ? *sources : m.source_list;
    const EnvLookup lookup = env ? env : EnvLookup(getenv_lookup);
    std::vector<ResolvedBlob> out;
    std::set<std::string> seen;
    const std::string file = m.file.string();
    // Each readable source's headers, expanded once.
    std::vector<std::pair<const BinarySource *, std::string>> readable;
    for (const auto &src : list) {
        if (!src.read) continue;
        std::string headers;
        for (std::size_t h = 0; h < src.headers.size(); ++h) {
            auto line = src.listed ? expand_env(src.headers[h], lookup, file + ": " + src.pointer + "/headers/" +
                                                                            std::to_string(h))
                                   : Expected<std::string>(src.headers[h]);
            if (!line) return line.status();
            if (line->find_first_of("\r\n") != std::string::npos)
                return Status(Errc::config, file + ": a header of source " + src.shown +
                                                " contains a line break once expanded");
            headers += (headers.empty() ? "" : "\n") + *line;
        }
        readable.emplace_back(&src, std::move(headers));
    }
    if (readable.empty())
        return Status(Errc::config, file + ": no source to read from: add \"sources\" or \"binary_sources\" to "
                                           "the manifest, or set VCPKG_BINARY_SOURCES");
    for (std::size_t i = 0; i < m.artifacts.size(); ++i) {
        const Artifact &a = m.artifacts[i];
        const std::string ap = "/artifacts/" + std::to_string(i);
        ResolvedBlob b;
        b.name = a.name;
        b.size = a.size;
        b.sha256 = a.sha256;
        auto path = expand_template(a.path_override.empty() ? m.cache_path_template : a.path_override, a, file + ": " + ap);
        if (!path) return path.status();
        if (Status s = check_relative_path(*path); !s.ok())
            return Status(Errc::unsafe_path, file + ": " + ap + ": artifact '" + a.name + "': " + s.message());
        if (!seen.insert(*path).second)
            return Status(Errc::config, file + ": " + ap + ": artifact '" + a.name + "' resolves to cache path '" +
                                            *path + "', which another artifact already uses");
        b.path = *path;
        if (!a.url_override.empty()) {
            auto full = expand_url_template(a.url_override, a, &lookup, ap + "/url", "its own \"url\"");
            if (!full) return Status(full.status().code(), file + ": " + full.message());
            // Headers are bound to the origin they were configured for: the
            // override gets those of the first readable source at the same
            // origin (scheme, host, port), and none when no source is there.
            std::string headers;
            for (const auto &[src, src_headers] : readable) {
                auto src_url = src->url_for(a, &lookup);
                if (src_url && same_origin(*src_url, *full)) {
                    headers = src_headers;
                    break;
                }
            }
            b.candidates.push_back({"the artifact's url", std::move(*full), std::move(headers)});
        } else {
            for (const auto &[src, headers] : readable) {
                auto url = src->url_for(a, &lookup);
                if (!url) return Status(url.status().code(), file + ": " + url.message());
                b.candidates.push_back({src->shown, std::move(*url), headers, src->default_cache});
            }
        }
        b.url = b.candidates[0].url;
        b.headers = b.candidates[0].headers;
        out.push_back(std::move(b));
    }
    return out;
}

}  // namespace blobfetch::config
