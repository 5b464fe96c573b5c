// vcpkg's binary source strings, with the examples of vcpkg's documentation
// (learn.microsoft.com/vcpkg/reference/binarycaching and the projects that
// document their own http caches for it).
#include "config/binary_sources.h"

#include <gtest/gtest.h>

#include "base/path_safety.h"
#include "config/manifest.h"

namespace blobfetch::config {
namespace {

const Artifact kZlib{"zlib", "1.3.1", "x64-linux", "70a5ceda64f1b5c01c1f7afe7669a32bc11c11496d8aeb094d7389a43c946f4b",
                     -1, {}, {}, {}};

EnvFn env_with(std::string home) {
    return [home](std::string_view name) -> std::optional<std::string> {
        if (name == "HOME") return home;
        return std::nullopt;
    };
}

TEST(BinarySources, DocExample_ClearThenHttpRead) {
    auto r = parse_binary_sources("clear;http,https://example.com/{triplet}-{name}-{sha},read", "VCPKG_BINARY_SOURCES");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 1u);
    const auto &s = r->sources[0];
    EXPECT_EQ(s.kind, SourceKind::http);
    EXPECT_TRUE(s.read);
    EXPECT_FALSE(s.write);
    EXPECT_EQ(*s.url_for(kZlib), "https://example.com/x64-linux-zlib-" + kZlib.sha);
}

TEST(BinarySources, DocExample_HttpReadWriteWithAnAuthorizationHeader) {
    auto r = parse_binary_sources(
        "clear;http,https://example.com/{triplet}-{name}-{sha},readwrite,Authorization: Token supersecrettoken", "env");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 1u);
    EXPECT_TRUE(r->sources[0].read && r->sources[0].write);
    ASSERT_EQ(r->sources[0].headers.size(), 1u);
    EXPECT_EQ(r->sources[0].headers[0], "Authorization: Token supersecrettoken");
    EXPECT_EQ(r->sources[0].shown.find("supersecrettoken"), std::string::npos);
}

TEST(BinarySources, DocExample_AzureBlobWithSas) {
    auto r = parse_binary_sources(
        "x-azblob,https://account.blob.core.windows.net/vcpkg-caches,sv=2022-11-02&se=2030-01-01&sig=SECRET,readwrite",
        "env");
    ASSERT_TRUE(r.ok()) << r.message();
    const auto &s = r->sources[0];
    EXPECT_EQ(s.kind, SourceKind::azblob);
    EXPECT_EQ(*s.url_for(kZlib), "https://account.blob.core.windows.net/vcpkg-caches/" + kZlib.sha +
                                     ".zip?sv=2022-11-02&se=2030-01-01&sig=SECRET");
    EXPECT_EQ(s.shown.find("SECRET"), std::string::npos) << "the SAS is never shown";
}

TEST(BinarySources, DocExample_FilesAndDefault_UseTheFilesLayout) {
    auto r = parse_binary_sources("default;files,/mnt/vcpkg-caches,readwrite", "env", {}, env_with("/home/u"));
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 2u);
    EXPECT_EQ(*r->sources[0].url_for(kZlib), "file:///home/u/.cache/vcpkg/archives/70/" + kZlib.sha + ".zip");
    EXPECT_EQ(*r->sources[1].url_for(kZlib), "file:///mnt/vcpkg-caches/70/" + kZlib.sha + ".zip");
    EXPECT_FALSE(parse_binary_sources("files,relative/path", "env").ok()) << "files needs an absolute path";
    EXPECT_TRUE(parse_binary_sources("files,D:/vcpkg-caches,readwrite", "env").ok()) << "a Windows drive path";

    // Any byte of a path survives the trip through the URL (spaces, '%', '?', '#', UTF-8).
    auto odd = parse_binary_sources("files,/mnt/my caches/100%?#/\xc3\xa9t\xc3\xa9", "env");
    ASSERT_TRUE(odd.ok()) << odd.message();
    const auto url = odd->sources[0].url_for(kZlib);
    ASSERT_TRUE(url.ok()) << url.message();
    EXPECT_EQ(*url, "file:///mnt/my%20caches/100%25%3F%23/%C3%A9t%C3%A9/70/" + kZlib.sha + ".zip");
    EXPECT_EQ(file_url_path(*url), "/mnt/my caches/100%?#/\xc3\xa9t\xc3\xa9/70/" + kZlib.sha + ".zip");
}

TEST(BinarySources, BacktickEscapes) {
    auto r = parse_binary_sources("http,https://h/a`,b`;c``/{sha},read", "env");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 1u);
    EXPECT_EQ(r->sources[0].location, "https://h/a,b;c`/{sha}");
    EXPECT_FALSE(parse_binary_sources("http,https://h/{sha}`", "env").ok()) << "a trailing escape";
}

TEST(BinarySources, ClearDropsEarlierSourcesAlsoFromAPreviousString) {
    auto first = parse_binary_sources("http,https://a/{sha}", "manifest");
    ASSERT_TRUE(first.ok());
    auto second = parse_binary_sources("http,https://b/{sha};clear;http,https://c/{sha}", "env", first->sources);
    ASSERT_TRUE(second.ok());
    ASSERT_EQ(second->sources.size(), 1u);
    EXPECT_EQ(second->sources[0].location, "https://c/{sha}");
    auto appended = parse_binary_sources("http,https://b/{sha}", "env", first->sources);
    EXPECT_EQ(appended->sources.size(), 2u) << "without clear, sources add up in order";
}

TEST(BinarySources, OtherVcpkgKindsAreSkippedWithAWarning_UnknownWordsAreErrors) {
    auto r = parse_binary_sources("x-aws,s3://bucket/,readwrite;nuget,https://nuget/x;http,https://h/{sha}", "env");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->sources.size(), 1u);
    EXPECT_EQ(r->warnings.size(), 2u);
    auto bad = parse_binary_sources("htp,https://h/{sha}", "VCPKG_BINARY_SOURCES");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.message().find("VCPKG_BINARY_SOURCES"), std::string::npos);
    EXPECT_NE(bad.message().find("unknown kind 'htp'"), std::string::npos) << bad.message();
}

TEST(BinarySources, MalformedSourcesAreClearErrors) {
    for (const char *text : {"http", "http,ftp://h/{sha}", "http,https://h/{sha},sometimes", "http,https://h/{abi}",
                             "x-azblob,https://h/c", "clear,now", "files", "http,https://h/{sha},read,no-colon"}) {
        auto r = parse_binary_sources(text, "env");
        EXPECT_FALSE(r.ok()) << text;
        if (!r.ok()) {
            EXPECT_FALSE(r.message().empty());
        }
    }
    auto r = parse_binary_sources("x-azblob,https://h/c,sig=TOPSECRET,sometimes", "env");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.message().find("TOPSECRET"), std::string::npos) << r.message();
}

TEST(BinarySources, WriteOnlySourcesAreNotRead_EmptyStringsAreNothing) {
    auto r = parse_binary_sources(";http,https://w/{sha},write;;", "env");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 1u);
    EXPECT_FALSE(r->sources[0].read);
}

}  // namespace
}  // namespace blobfetch::config
