#include "config/manifest.h"

#include <gtest/gtest.h>

namespace blobfetch::config {
namespace {

const std::string kHash(64, 'a');

std::string manifest_text(const std::string &source_url, const std::string &extra = "") {
    return R"({"version": 1, "cache_dir": "c", "sources": [{"url": ")" + source_url +
           R"(", "headers": ["Authorization: Bearer ${env:TOKEN}"]}],)" + extra +
           R"( "artifacts": [{"name": "zlib", "version": "1.3", "triplet": "x64-linux", "sha": "k1", "size": 5,
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
    EXPECT_EQ((*blobs)[0].url, "https://h/x64-linux/zlib-1.3/k1.zip");
    EXPECT_EQ((*blobs)[0].path, "zlib/k1.zip");
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
          {"name": "elsewhere", "sha": "k1", "url": "https://attacker.example.net/{sha}.zip"},
          {"name": "same-host-other-scheme", "sha": "k2", "url": "http://cache.example.com/{sha}.zip"},
          {"name": "same-host-other-port", "sha": "k3", "url": "https://cache.example.com:8443/{sha}.zip"},
          {"name": "same-origin", "sha": "k4", "url": "https://CACHE.example.com:443/other/{sha}.zip"},
          {"name": "second-source-origin", "sha": "k5", "url": "http://mirror.example.com:8080/x/{sha}"}]})";
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
        "artifacts": [{"name": "zlib", "sha": "k1"}]})";
    auto m = parse_manifest(text, "m.json");
    ASSERT_TRUE(m.ok()) << m.message();
    auto blobs = resolve_manifest(*m, env_with_token());
    ASSERT_TRUE(blobs.ok()) << blobs.message();
    const auto &c = (*blobs)[0].candidates;
    ASSERT_EQ(c.size(), 4u);
    EXPECT_EQ(c[0].url, "https://z.example/k1?t=s3cret");
    EXPECT_EQ(c[1].url, "https://a.example/k1");
    EXPECT_EQ(c[2].url, "file:///archives/k1/k1.zip");
    EXPECT_EQ(c[3].url, "https://h.example/$x/k1");
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
    Artifact a{"zlib", "", "x64", "k", -1, "", "", ""};
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
      "artifacts":[{"name":"a","sha":"k"},{"name":"b","sha":"k","path":"a/k.zip"}]})";
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
