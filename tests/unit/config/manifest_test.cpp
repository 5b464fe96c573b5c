#include "config/manifest.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace blobfetch::config {
namespace {

const std::string kHash(64, 'a');
// ABI keys as vcpkg makes them (SHA-256s, 64 lower-case hex digits).
const std::string kAbi1 = "70a5ceda64f1b5c01c1f7afe7669a32bc11c11496d8aeb094d7389a43c946f4b";
const std::string kAbi2 = "0f1e2d3c4b5a69788f0e1d2c3b4a59687f0e1d2c3b4a59687f0e1d2c3b4a5968";
std::string key(char digit) { return std::string(64, digit); }

std::string manifest_text(const std::string &source_url, const std::string &extra = "") {
    return R"({"version": 1, "cache_dir": "c", "sources": [{"url": ")" + source_url +
           R"(", "headers": ["Authorization: Bearer ${env:TOKEN}"]}],)" + extra +
           R"( "artifacts": [{"name": "zlib", "version": "1.3", "triplet": "x64-linux", "sha": ")" + kAbi1 + R"(", "size": 5,
              "sha256": ")" + std::string(64, 'A') + R"("}]})";
}

EnvLookup env_with_token() {
    return [](std::string_view name) -> std::optional<std::string> {
        if (name == "TOKEN") return std::string("s3cret");
        return std::nullopt;
    };
}

TEST(Manifest, ParsesAndResolvesTemplatesAndHeaders) {
    auto m = parse_manifest(manifest_text("https://h/{triplet}/{name}-{version}/{sha}.zip"), "/work/m.json");
    ASSERT_TRUE(m.ok()) << m.message();
    EXPECT_EQ(m->cache_dir, std::filesystem::path("/work/c"));
    auto blobs = resolve_manifest(*m, env_with_token());
    ASSERT_TRUE(blobs.ok()) << blobs.message();
    ASSERT_EQ(blobs->size(), 1u);
    EXPECT_EQ((*blobs)[0].url, "https://h/x64-linux/zlib-1.3/" + kAbi1 + ".zip");
    EXPECT_EQ((*blobs)[0].path, "zlib/" + kAbi1 + ".zip");
    EXPECT_EQ((*blobs)[0].sha256, kHash) << "normalised to lower case";
    EXPECT_EQ((*blobs)[0].headers, "Authorization: Bearer s3cret");
    EXPECT_EQ((*blobs)[0].size, 5);
}

// A source's headers are bound to its origin: an artifact's own "url" gets
// them only when it has the same scheme, host and port.
TEST(Manifest, UrlOverride_GetsASourcesHeadersOnlyAtTheSameOrigin) {
    const std::string text = R"({"version": 1, "cache_dir": "c",
        "sources": [{"url": "https://cache.example.com/{name}/{sha}.zip", "headers": ["Authorization: Bearer ${env:TOKEN}"]},
                    {"url": "http://mirror.example.com:8080/{sha}", "headers": ["X-Api-Key: k2"]}],
        "artifacts": [
          {"name": "elsewhere", "sha": ")" + key('1') + R"(", "url": "https://attacker.example.net/{sha}.zip"},
          {"name": "same-host-other-scheme", "sha": ")" + key('2') + R"(", "url": "http://cache.example.com/{sha}.zip"},
          {"name": "same-host-other-port", "sha": ")" + key('3') + R"(", "url": "https://cache.example.com:8443/{sha}.zip"},
          {"name": "same-origin", "sha": ")" + key('4') + R"(", "url": "https://CACHE.example.com:443/other/{sha}.zip"},
          {"name": "second-source-origin", "sha": ")" + key('5') + R"(", "url": "http://mirror.example.com:8080/x/{sha}"}]})";
    auto m = parse_manifest(text, "m.json");
    ASSERT_TRUE(m.ok()) << m.message();
    auto blobs = resolve_manifest(*m, env_with_token());
    ASSERT_TRUE(blobs.ok()) << blobs.message();
    ASSERT_EQ(blobs->size(), 5u);
    EXPECT_EQ((*blobs)[0].headers, "") << "another host never gets the team cache's token";
    EXPECT_EQ((*blobs)[1].headers, "") << "https -> http is another origin";
    EXPECT_EQ((*blobs)[2].headers, "") << "another port is another origin";
    EXPECT_EQ((*blobs)[3].headers, "Authorization: Bearer s3cret");
    EXPECT_EQ((*blobs)[4].headers, "X-Api-Key: k2");
    for (const auto &b : *blobs) ASSERT_EQ(b.candidates.size(), 1u);
}

// "sources" are blobfetch's (${env:...}, written order); "binary_sources" is
// vcpkg's: literal (vcpkg expands nothing from the environment), read files
// first, then http.
#ifndef _WIN32  // (POSIX absolute paths: "/archives" is not absolute on Windows, there vcpkg refuses it too)
TEST(Manifest, BinarySources_AreReadAsVcpkgReadsThem_AfterTheListedSourcesAsWritten) {
    const std::string text = R"({"version": 1, "cache_dir": "c",
        "sources": [{"url": "https://z.example/{sha}?t=${env:TOKEN}"}, {"url": "https://a.example/{sha}"}],
        "binary_sources": "http,https://h.example/$x/{sha},read,X-Token: ${env:TOKEN};files,/archives",
        "artifacts": [{"name": "zlib", "sha": ")" + kAbi1 + R"("}]})";
    auto m = parse_manifest(text, "m.json");
    ASSERT_TRUE(m.ok()) << m.message();
    auto blobs = resolve_manifest(*m, env_with_token());
    ASSERT_TRUE(blobs.ok()) << blobs.message();
    const auto &c = (*blobs)[0].candidates;
    ASSERT_EQ(c.size(), 4u);
    EXPECT_EQ(c[0].url, "https://z.example/" + kAbi1 + "?t=s3cret");
    EXPECT_EQ(c[1].url, "https://a.example/" + kAbi1);
    EXPECT_EQ(c[2].url, "file:///archives/70/" + kAbi1 + ".zip");
    EXPECT_EQ(c[3].url, "https://h.example/$x/" + kAbi1);
    EXPECT_EQ(c[3].headers, "X-Token: ${env:TOKEN}") << "sent as written, as vcpkg sends it";
}
#endif

TEST(Manifest, MissingEnvironmentVariableIsNamed_SecretNeverEchoed) {
    auto m = parse_manifest(manifest_text("https://h/{name}"), "m.json");
    ASSERT_TRUE(m.ok());
    auto blobs = resolve_manifest(*m, [](std::string_view) { return std::optional<std::string>(); });
    ASSERT_FALSE(blobs.ok());
    EXPECT_NE(blobs.message().find("TOKEN"), std::string::npos);
    EXPECT_NE(blobs.message().find("/sources/0/headers/0"), std::string::npos);
}

TEST(Manifest, HeaderWithoutNameIsRefusedWithoutShowingIt) {
    std::string text = R"({"version":1,"cache_dir":"c","sources":[{"url":"http://h/{name}","headers":["secret-token-value"]}],"artifacts":[]})";
    auto m = parse_manifest(text, "m.json");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("/sources/0/headers/0"), std::string::npos);
    EXPECT_EQ(m.message().find("secret-token-value"), std::string::npos);
}

TEST(Manifest, SyntaxErrorReportsLineAndColumn) {
    auto m = parse_manifest("{\n  \"version\": 1,\n  oops\n}", "m.json");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), Errc::config);
    EXPECT_NE(m.message().find("m.json:3:3"), std::string::npos) << m.message();
}

TEST(Manifest, TemplateErrors_UnknownVariableUnterminatedAndMissingField) {
    Artifact a{"zlib", "", "x64", "k", -1, "", "", "", ""};
    auto unknown = expand_template("{name}/{abi}", a, "here");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.message().find("{abi}"), std::string::npos);
    EXPECT_FALSE(expand_template("{name", a, "here").ok());
    EXPECT_FALSE(expand_template("name}", a, "here").ok());
    auto missing = expand_template("{version}", a, "here");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("zlib"), std::string::npos);
    EXPECT_EQ(*expand_template("${env:X}/{name}", a, "here"), "${env:X}/zlib") << "env refs are left for expand_env";
}

TEST(Manifest, DuplicateCachePathsAreRefused) {
    std::string text = R"({"version":1,"cache_dir":"c","sources":[{"url":"http://h/{name}"}],
      "artifacts":[{"name":"a","sha":")" + kAbi1 + R"("},{"name":"b","sha":")" + kAbi1 + R"(","path":"a/)" + kAbi1 +
                       R"(.zip"}]})";
    auto m = parse_manifest(text, "m.json");
    ASSERT_TRUE(m.ok()) << m.message();
    auto blobs = resolve_manifest(*m, env_with_token());
    ASSERT_FALSE(blobs.ok());
    EXPECT_NE(blobs.message().find("/artifacts/1"), std::string::npos) << blobs.message();
}

TEST(Manifest, VersionOtherThanOneIsRefused_UnknownTopLevelKeyToo) {
    EXPECT_FALSE(parse_manifest(R"({"version":2,"cache_dir":"c","sources":[{"url":"u"}],"artifacts":[]})", "m").ok());
    auto m = parse_manifest(R"({"version":1,"cache_dir":"c","sources":[{"url":"u"}],"artifacts":[],"extra":1})", "m");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("/extra"), std::string::npos);
}

TEST(Manifest, EmptySourcesAndBadAbiKeyAreRefused) {
    EXPECT_FALSE(parse_manifest(R"({"version":1,"cache_dir":"c","sources":[],"artifacts":[]})", "m").ok());
    auto m = parse_manifest(R"({"version":1,"cache_dir":"c","sources":[{"url":"u"}],"artifacts":[{"name":"a","sha":"../x"}]})", "m");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("/artifacts/0/sha"), std::string::npos);
}

// An artifact's values are data: "${env:...}" in one is never expanded, in a
// source's url, in an artifact's own url, nor anywhere else; only the
// templates' own references are. (A name "zlib${env:TOKEN}" once put the
// token into the request path, the messages and --json.)
TEST(Manifest, EnvReferenceInAnArtifactsValue_IsNeverExpanded) {
    const std::string text = R"({"version": 1, "cache_dir": "c", "cache_path": "{sha}.zip",
        "sources": [{"url": "https://cache.example.com/{triplet}/{name}/{version}/{sha}.zip",
                     "headers": ["Authorization: Bearer ${env:TOKEN}"]}],
        "binary_sources": "http,https://vcpkg.example.com/{name}/{sha}",
        "artifacts": [
          {"name": "zlib${env:TOKEN}", "version": "${env:TOKEN}", "triplet": "x${env:TOKEN}", "sha": ")" + kAbi1 + R"("},
          {"name": "own", "version": "${env:TOKEN}", "triplet": "x64-linux", "sha": ")" + kAbi2 + R"(",
           "url": "https://cache.example.com/own/{version}/{sha}"}]})";
    auto m = parse_manifest(text, "m.json");
    ASSERT_TRUE(m.ok()) << m.message();
    auto blobs = resolve_manifest(*m, env_with_token());
    ASSERT_TRUE(blobs.ok()) << blobs.message();
    ASSERT_EQ(blobs->size(), 2u);
    const std::string ref = "%24%7Benv%3ATOKEN%7D";  // "${env:TOKEN}", percent-encoded
    ASSERT_EQ((*blobs)[0].candidates.size(), 2u);
    EXPECT_EQ((*blobs)[0].candidates[0].url,
              "https://cache.example.com/x" + ref + "/zlib" + ref + "/" + ref + "/" + kAbi1 + ".zip");
    EXPECT_EQ((*blobs)[0].candidates[1].url, "https://vcpkg.example.com/zlib" + ref + "/" + kAbi1);
    EXPECT_EQ((*blobs)[0].headers, "Authorization: Bearer s3cret") << "the template's own reference is expanded";
    EXPECT_EQ((*blobs)[1].url, "https://cache.example.com/own/" + ref + "/" + kAbi2);
    for (const auto &b : *blobs) {
        EXPECT_EQ(b.path.find("s3cret"), std::string::npos) << b.path;
        for (const auto &c : b.candidates) EXPECT_EQ(c.url.find("s3cret"), std::string::npos) << c.url;
    }
}

// A value goes into a URL percent-encoded: '/', '?', '#', '@', ':' and '%'
// in it never add a path segment, a query, a fragment, credentials, a port
// or an escape of their own, in any kind of template.
TEST(Manifest, UrlSyntaxInAnArtifactsValue_IsPercentEncoded_TheUrlKeepsItsStructure) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"a/../b", "a%2F..%2Fb"}, {"a?x=1", "a%3Fx%3D1"}, {"a#f", "a%23f"},   {"u@a", "u%40a"},
        {"a:9", "a%3A9"},         {"a%2Fb", "a%252Fb"},   {"a b", "a%20b"}, {"\xc3\xa9", "%C3%A9"}};
    nlohmann::json m = nlohmann::json::parse(R"({"version": 1, "cache_dir": "c", "cache_path": "{sha}.zip",
        "sources": [{"url": "https://cache.example.com:8443/p/{name}/{sha}.zip?v={version}"}],
        "binary_sources": "http,https://vcpkg.example.com/{triplet}/{sha}", "artifacts": []})");
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const std::string sha = std::string(63, '0') + "0123456789"[i];
        m["artifacts"].push_back({{"name", cases[i].first}, {"version", cases[i].first},
                                  {"triplet", cases[i].first}, {"sha", sha}});
        m["artifacts"].push_back({{"name", "own-" + std::to_string(i)}, {"version", cases[i].first},
                                  {"triplet", "x64-linux"}, {"sha", std::string(63, '1') + "0123456789"[i]},
                                  {"url", "https://own.example.com/{version}/x"}});
    }
    auto parsed = parse_manifest(m.dump(), "m.json");
    ASSERT_TRUE(parsed.ok()) << parsed.message();
    auto blobs = resolve_manifest(*parsed, env_with_token());
    ASSERT_TRUE(blobs.ok()) << blobs.message();
    ASSERT_EQ(blobs->size(), 2 * cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const std::string &e = cases[i].second;
        const std::string sha = std::string(63, '0') + "0123456789"[i];
        const auto &c = (*blobs)[2 * i].candidates;
        ASSERT_EQ(c.size(), 2u);
        EXPECT_EQ(c[0].url, "https://cache.example.com:8443/p/" + e + "/" + sha + ".zip?v=" + e) << cases[i].first;
        EXPECT_EQ(c[1].url, "https://vcpkg.example.com/" + e + "/" + sha) << cases[i].first;
        EXPECT_EQ((*blobs)[2 * i + 1].url, "https://own.example.com/" + e + "/x") << cases[i].first;
    }
}

// The server is the template's to choose, never a value's: a variable in the
// scheme, host or port part makes the artifact's data pick where the request
// (and the source's headers) go. Refused as bad input, naming the artifact
// and the source, whether the template says so when read or only once its
// ${env:...} is expanded; variables in the path and query are fine.
TEST(Manifest, AValueThatWouldChooseTheServer_IsRefusedNamingTheArtifactAndTheSource) {
    const auto manifest = [](const std::string &sources, const std::string &artifact_extra = "") {
        return R"({"version": 1, "cache_dir": "c", "sources": [)" + sources +
               R"(], "artifacts": [{"name": ".evil.example", "version": "1", "triplet": "x64-linux", "sha": ")" +
               kAbi1 + "\"" + artifact_extra + "}]}";
    };
    for (const std::string &source :
         {std::string(R"({"name": "team", "url": "https://cache.example.com{name}/{sha}"})"),
          std::string(R"({"name": "team", "url": "https://{triplet}.cache.example.com/{sha}"})"),
          std::string(R"({"name": "team", "url": "https://cache.example.com:{version}/{sha}"})"),
          std::string(R"({"name": "team", "url": "{name}/{sha}"})")}) {
        auto m = parse_manifest(manifest(source), "m.json");
        ASSERT_FALSE(m.ok()) << source;
        EXPECT_EQ(m.status().code(), Errc::config) << m.message();
        EXPECT_NE(m.message().find("m.json"), std::string::npos) << m.message();
        EXPECT_NE(m.message().find("/artifacts/0"), std::string::npos) << m.message();
        EXPECT_NE(m.message().find("'.evil.example'"), std::string::npos) << m.message();
        EXPECT_NE(m.message().find("team"), std::string::npos) << "names the source: " << m.message();
    }
    // Only known once the environment is: refused when resolved.
    auto late = parse_manifest(manifest(R"({"name": "team", "url": "${env:BASE}{name}/{sha}"})"), "m.json");
    ASSERT_TRUE(late.ok()) << late.message();
    const EnvLookup base = [](std::string_view) -> std::optional<std::string> { return "https://cache.example.com"; };
    auto refused = resolve_manifest(*late, base);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.message().find("'.evil.example'"), std::string::npos) << refused.message();
    EXPECT_NE(refused.message().find("team"), std::string::npos) << refused.message();
    // An artifact's own url and a vcpkg source string: the same rule.
    auto own = parse_manifest(manifest(R"({"url": "https://h.example/{sha}"})", R"(, "url": "https://h{name}/x")"), "m.json");
    ASSERT_FALSE(own.ok());
    EXPECT_NE(own.message().find("'.evil.example'"), std::string::npos) << own.message();
    auto vcpkg = parse_manifest(R"({"version": 1, "cache_dir": "c", "binary_sources": "http,https://h.example{name}/{sha}",
        "artifacts": [{"name": ".evil.example", "sha": ")" + kAbi1 + R"("}]})", "m.json");
    ASSERT_FALSE(vcpkg.ok());
    EXPECT_NE(vcpkg.message().find("'.evil.example'"), std::string::npos) << vcpkg.message();
    EXPECT_NE(vcpkg.message().find("http,https://h.example{name}/{sha}"), std::string::npos) << vcpkg.message();
    // The environment may choose the server; values in the path are fine.
    auto fine = parse_manifest(manifest(R"({"name": "team", "url": "${env:BASE}/{name}/{sha}"})"), "m.json");
    ASSERT_TRUE(fine.ok()) << fine.message();
    auto blobs = resolve_manifest(*fine, base);
    ASSERT_TRUE(blobs.ok()) << blobs.message();
    EXPECT_EQ((*blobs)[0].url, "https://cache.example.com/.evil.example/" + kAbi1);
}

// An ABI key is what vcpkg makes: a SHA-256 in 64 lower-case hex digits.
// Anything else is refused, naming the key: it becomes a file name and a
// directory in the files layout ("..x" read <dir>/../..x.zip) and a path
// segment of every URL.
TEST(Manifest, AbiKeyThatIsNotVcpkgsHash_IsRefusedNamingIt) {
    for (const std::string &bad : {std::string("..x"), std::string(".."), std::string("k1"), std::string("abc123"),
                                   std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'A'),
                                   std::string(62, 'a') + "..", std::string(63, 'a') + "g"}) {
        const std::string text = R"({"version":1,"cache_dir":"c","sources":[{"url":"https://h/{sha}"}],
            "artifacts":[{"name":"zlib","sha":")" + bad + R"("}]})";
        auto m = parse_manifest(text, "m.json");
        ASSERT_FALSE(m.ok()) << bad;
        EXPECT_EQ(m.status().code(), Errc::config) << m.message();
        EXPECT_NE(m.message().find("/artifacts/0/sha"), std::string::npos) << m.message();
        EXPECT_NE(m.message().find("\"" + bad + "\""), std::string::npos) << "names the key: " << m.message();
        EXPECT_NE(m.message().find("64 lower-case hexadecimal"), std::string::npos) << m.message();
    }
    auto good = parse_manifest(R"({"version":1,"cache_dir":"c","sources":[{"url":"https://h/{sha}"}],
        "artifacts":[{"name":"zlib","sha":")" + kAbi1 + R"("}]})", "m.json");
    EXPECT_TRUE(good.ok()) << good.message();
}

TEST(ProviderOptions, DefaultsRoundTripAndStrictness) {
    auto d = parse_provider_options_text("", "cfg");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->concurrency, 8);
    auto round = parse_provider_options(to_json(*d), "cfg", "");
    ASSERT_TRUE(round.ok()) << round.message();
    EXPECT_EQ(to_json(*round), to_json(*d));
    auto typo = parse_provider_options_text(R"({"concurency": 4})", "cfg");
    ASSERT_FALSE(typo.ok());
    EXPECT_NE(typo.message().find("concurency"), std::string::npos);
    EXPECT_NE(typo.message().find("concurrency"), std::string::npos) << "lists the known options";
    EXPECT_FALSE(parse_provider_options_text(R"({"durability": "sometimes"})", "cfg").ok());
    EXPECT_FALSE(parse_provider_options_text(R"({"chunk_size": 1})", "cfg").ok());
    EXPECT_FALSE(parse_provider_options_text(R"({"retries": 1e9})", "cfg").ok());
    EXPECT_FALSE(parse_provider_options_text(R"({"concurrency": 18446744073709551615})", "cfg").ok());
    EXPECT_FALSE(parse_provider_options_text("[]", "cfg").ok());
}

}  // namespace
}  // namespace blobfetch::config

namespace blobfetch::config {
namespace {

TEST(Manifest, ShippedExamplesParseAndResolve) {
    auto env = [](std::string_view) -> std::optional<std::string> { return std::string("http://127.0.0.1:1"); };
    for (const char *name : {"demo.json", "example.json"}) {
        auto m = load_manifest(std::string(BLOBFETCH_SOURCE_DIR) + "/manifests/" + name);
        ASSERT_TRUE(m.ok()) << name << ": " << m.message();
        auto blobs = resolve_manifest(*m, env);
        ASSERT_TRUE(blobs.ok()) << name << ": " << blobs.message();
        EXPECT_FALSE(blobs->empty()) << name;
        for (const auto &b : *blobs) EXPECT_EQ(b.sha256.size(), 64u) << name << " " << b.name;
    }
}

}  // namespace
}  // namespace blobfetch::config
