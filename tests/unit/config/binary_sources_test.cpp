// vcpkg's binary source strings, with the examples of vcpkg's documentation
// (learn.microsoft.com/vcpkg/reference/binarycaching and the projects that
// document their own http caches for it).
#include "config/binary_sources.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "base/path_safety.h"
#include "config/manifest.h"

namespace blobfetch::config {
namespace {

const Artifact kZlib{"zlib", "1.3.1", "x64-linux", "70a5ceda64f1b5c01c1f7afe7669a32bc11c11496d8aeb094d7389a43c946f4b",
                     -1, {}, {}, {}, {}};

// A machine whose environment is `vars` and whose directories are `dirs`.
SourceContext machine(std::map<std::string, std::string> vars, std::set<std::string> dirs, bool windows = false) {
    SourceContext c;
    c.env = [vars](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
    c.is_directory = [dirs](const std::string &path) { return dirs.count(path) > 0; };
    c.windows = windows;
    return c;
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

#ifndef _WIN32  // (POSIX absolute paths: "/archives" is not absolute on Windows, there vcpkg refuses it too)
TEST(BinarySources, DocExample_FilesAndDefault_UseTheFilesLayout) {
    auto r = parse_binary_sources("default;files,/mnt/vcpkg-caches,readwrite", "env", {}, machine({{"HOME", "/home/u"}}, {}));
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 2u);
    EXPECT_EQ(*r->sources[0].url_for(kZlib), "file:///home/u/.cache/vcpkg/archives/70/" + kZlib.sha + ".zip");
    EXPECT_EQ(*r->sources[1].url_for(kZlib), "file:///mnt/vcpkg-caches/70/" + kZlib.sha + ".zip");
    EXPECT_FALSE(parse_binary_sources("files,relative/path", "env").ok()) << "files needs an absolute path";
    // Absolute as vcpkg's Path::is_absolute has it on each system.
    SourceContext windows;
    windows.windows = true;
    EXPECT_TRUE(parse_binary_sources("files,D:/vcpkg-caches,readwrite", "env", {}, windows).ok()) << "a drive path";
    windows.windows = false;
    EXPECT_FALSE(parse_binary_sources("files,D:/vcpkg-caches,readwrite", "env", {}, windows).ok())
        << "relative outside Windows";

    // Any byte of a path survives the trip through the URL (spaces, '%', '?', '#', UTF-8).
    auto odd = parse_binary_sources("files,/mnt/my caches/100%?#/\xc3\xa9t\xc3\xa9", "env");
    ASSERT_TRUE(odd.ok()) << odd.message();
    const auto url = odd->sources[0].url_for(kZlib);
    ASSERT_TRUE(url.ok()) << url.message();
    EXPECT_EQ(*url, "file:///mnt/my%20caches/100%25%3F%23/%C3%A9t%C3%A9/70/" + kZlib.sha + ".zip");
    EXPECT_EQ(file_url_path(*url), "/mnt/my caches/100%?#/\xc3\xa9t\xc3\xa9/70/" + kZlib.sha + ".zip");
}
#endif

// Every layout checks the ABI key before it becomes a path or a URL, also
// for an artifact that did not come from a manifest: the files layout once
// read <dir>/../..x.zip for the key "..x", and an http template's
// ".../{sha}/blob" another resource for "..".
TEST(BinarySources, AbiKeyThatIsNotAHash_IsRefusedByEveryLayout_NamingTheKey) {
#ifdef _WIN32
    const char *files = "files,C:/vcpkg-caches";
#else
    const char *files = "files,/vcpkg-caches";
#endif
    auto r = parse_binary_sources(std::string("clear;") + files +
                                      ";http,https://h.example/cache/{sha}/blob;x-azblob,https://a.example/c,sig=1",
                                  "env");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 3u);
    BinarySource listed;  // a manifest's "sources" entry
    listed.location = "https://h.example/{name}/{sha}.zip";
    listed.listed = true;
    listed.shown = "team (https://h.example/{name}/{sha}.zip)";
    listed.pointer = "/sources/0";
    r->sources.push_back(listed);
    for (const std::string &key : {std::string("..x"), std::string(".."), std::string("k1"), std::string(64, 'A')}) {
        Artifact bad = kZlib;
        bad.sha = key;
        for (const auto &s : r->sources) {
            auto url = s.url_for(bad);
            ASSERT_FALSE(url.ok()) << s.shown << " " << key << " -> " << *url;
            EXPECT_EQ(url.status().code(), Errc::config);
            EXPECT_NE(url.message().find("\"" + key + "\""), std::string::npos) << url.message();
            EXPECT_NE(url.message().find("zlib"), std::string::npos) << url.message();
        }
    }
    for (const auto &s : r->sources) EXPECT_TRUE(s.url_for(kZlib).ok()) << s.shown;
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
    EXPECT_NE(bad.message().find("binary source 'htp': unknown binary provider type"), std::string::npos) << bad.message();
}

TEST(BinarySources, MalformedSourcesAreClearErrors) {
    for (const char *text : {"http", "http,ftp://h/{sha}", "http,https://h/{sha},sometimes", "http,https://h/{abi}",
                             "x-azblob,https://h/c", "clear,now", "files"}) {
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

// The cases below were run through the real vcpkg (vcpkg-tool f9eb9c63, a
// `vcpkg install` of an overlay port against a logging server on 127.0.0.1):
// the URLs are the ones it requested, the reasons the ones it printed.

TEST(BinarySources, HttpTemplateWithoutSha_GetsShaZipAppended_AsVcpkgDoes) {
    const std::string zip = kZlib.sha + ".zip";
    for (const auto &[text, url] : std::vector<std::pair<std::string, std::string>>{
             {"http,https://h/cache", "https://h/cache/" + zip},
             {"http,https://h/cache/", "https://h/cache/" + zip},
             {"http,https://h/q?x=1", "https://h/q?x=1/" + zip}}) {
        auto r = parse_binary_sources(text, "env");
        ASSERT_TRUE(r.ok()) << text << ": " << r.message();
        ASSERT_EQ(r->sources.size(), 1u);
        auto u = r->sources[0].url_for(kZlib);
        ASSERT_TRUE(u.ok()) << u.message();
        EXPECT_EQ(*u, url) << text;
    }
    auto other = parse_binary_sources("http,https://h/{name}", "env");
    ASSERT_FALSE(other.ok()) << "vcpkg refuses other variables without {sha}";
    EXPECT_NE(other.message().find("The {sha} variable must be used in the template if other variables are used."),
              std::string::npos)
        << other.message();
}

TEST(BinarySources, DoubledBracesAreLiteralBraces_LoneOnesAreInvalid) {
    const std::string sha = kZlib.sha;
    for (const auto &[text, url] : std::vector<std::pair<std::string, std::string>>{
             {"http,https://h/a{{b}}c/{sha}", "https://h/a{b}c/" + sha},
             {"http,https://h/{{{sha}}}", "https://h/{" + sha + "}"},
             // An escaped {sha} is no variable: the template has none, so vcpkg appends one.
             {"http,https://h/{{sha}}", "https://h/{sha}/" + sha + ".zip"},
             {"http,https://h/x{{", "https://h/x{/" + sha + ".zip"},
             // Backtick escapes are undone first: "`{`{" is "{{".
             {"http,https://h/a`{`{b/{sha}", "https://h/a{b/" + sha}}) {
        auto r = parse_binary_sources(text, "env");
        ASSERT_TRUE(r.ok()) << text << ": " << r.message();
        auto u = r->sources[0].url_for(kZlib);
        ASSERT_TRUE(u.ok()) << u.message();
        EXPECT_EQ(*u, url) << text;
    }
    for (const char *text : {"http,https://h/a}b/{sha}", "http,https://h/a{b", "http,https://h/{na{me}/{sha}"}) {
        auto r = parse_binary_sources(text, "env");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_NE(r.message().find("invalid format string: " + std::string(text).substr(5)), std::string::npos)
            << r.message();
    }
}

TEST(BinarySources, DollarIsLiteral_EnvReferencesAreUnknownVariables) {
    auto r = parse_binary_sources("http,https://h/d${sha}", "env");
    ASSERT_TRUE(r.ok()) << r.message();
    auto u = r->sources[0].url_for(kZlib);
    ASSERT_TRUE(u.ok()) << u.message();
    EXPECT_EQ(*u, "https://h/d$" + kZlib.sha);
    for (const auto &[text, unknown] : std::vector<std::pair<std::string, std::string>>{
             {"http,https://h/${env:X}/{sha}", "env:X"}, {"http,https://h/{a}/{b}/{sha}", "a, b"}, {"http,https://h/{}/{sha}", ""}}) {
        auto bad = parse_binary_sources(text, "env");
        ASSERT_FALSE(bad.ok()) << text;
        EXPECT_NE(bad.message().find("invalid argument: url template '" + text.substr(5) +
                                     "' contains unknown variables: " + unknown),
                  std::string::npos)
            << bad.message();
    }
}

#ifndef _WIN32  // (POSIX absolute paths: "/archives" is not absolute on Windows, there vcpkg refuses it too)
TEST(BinarySources, WhatVcpkgRejects_IsRejectedWithVcpkgsReason) {
    const std::string unknown =
        "unknown binary provider type: valid providers are 'clear', 'default', 'nuget', 'nugetconfig', "
        "'nugettimeout', 'interactive', 'x-azblob', 'x-gcs', 'x-aws', 'x-aws-config', 'http', and 'files'";
    const std::string sas = "invalid argument: binary config 'azblob' requires a SAS token without a preceeding '?' "
                            "as the second argument";
    for (const auto &[text, reason] : std::vector<std::pair<std::string, std::string>>{
             {"x-azblob,https://h/c,?sv=1&sig=S", sas},
             {"x-azblob,https://h/c,", sas},
             {" ", unknown},
             {"clear; ;http,https://h/{sha}", unknown},
             {"\t", unknown},
             {" files,/tmp", unknown},
             {"htp,https://h/{sha}", unknown},
             {"x-azblob,http://example.com/c,sig",
              "invalid argument: binary config 'azblob' requires a https:// base url as the first argument"},
             {"x-azblob,https://h/c", "invalid argument: binary config 'azblob' requires at least a base-url and a SAS token"},
             {"x-azblob,https://h/c,sig,read,x", "invalid argument: binary config 'azblob' requires 2 or 3 arguments"},
             {"http,ftp://h/{sha}", "invalid argument: binary config 'http' requires a https:// base url as the first argument"},
             {"http", "invalid argument: binary config 'http' requires at least one prefix"},
             {"http,https://h/{sha},read,H: v,extra", "invalid argument: binary config 'http' requires 2 or 3 arguments"},
             {"files", "invalid argument: binary config 'files' requires at least one path argument"},
             {"files,relative/path",
              "invalid argument: binary config 'files' path arguments for binary config strings must be absolute"},
             {"files,/tmp,read,x", "invalid argument: binary config 'files' requires 1 or 2 arguments"},
             {"default,read,x", "invalid argument: binary config 'default' does not take more than 1 argument"},
             {"clear,now", "invalid argument: binary config 'clear' does not take arguments"},
             {"files,/tmp,sometimes", "unexpected argument: expected 'read', readwrite', or 'write'"},
             {"files,/tmp`", "unexpected eof: trailing unescaped backticks (`) are not allowed"}}) {
        auto r = parse_binary_sources(text, "VCPKG_BINARY_SOURCES");
        ASSERT_FALSE(r.ok()) << "[" << text << "]";
        EXPECT_NE(r.message().find(reason), std::string::npos) << "[" << text << "]: " << r.message();
        EXPECT_EQ(r.message().rfind("VCPKG_BINARY_SOURCES: ", 0), 0u) << r.message();
        EXPECT_EQ(r.message().find("sig=S"), std::string::npos) << "the SAS is never shown: " << r.message();
    }
}
#endif

TEST(BinarySources, WhatVcpkgAccepts_IsAccepted_AHeaderWithoutColonIsExplained) {
    auto r = parse_binary_sources("http,https://h/{sha},read,NoColonSecret", "env");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->sources.size(), 1u);
    ASSERT_EQ(r->warnings.size(), 1u);
    EXPECT_NE(r->warnings[0].find("no ':'"), std::string::npos) << r->warnings[0];
    EXPECT_EQ(r->warnings[0].find("NoColonSecret"), std::string::npos) << "a header is never shown";
    auto empty = parse_binary_sources("http,https://h/{sha},read,", "env");
    ASSERT_TRUE(empty.ok()) << empty.message();
    EXPECT_TRUE(empty->warnings.empty());
    // Azurite: vcpkg lets plain http through for 127.0.0.1 only.
    EXPECT_TRUE(parse_binary_sources("x-azblob,http://127.0.0.1:10000/devstoreaccount1/c,sig=1", "env").ok());
    // x-azblob keeps the base URI as written and adds one '/' when it has none.
    auto az = parse_binary_sources("x-azblob,https://h/c//,sig=1", "env");
    ASSERT_TRUE(az.ok()) << az.message();
    EXPECT_EQ(*az->sources[0].url_for(kZlib), "https://h/c//" + kZlib.sha + ".zip?sig=1");
}

std::vector<std::string> locations(const ParsedSources &p) {
    std::vector<std::string> out;
    for (const auto &s : p.sources) out.push_back(s.location);
    return out;
}

TEST(BinarySources, DefaultCacheLocation_AsVcpkgFindsIt) {
    struct Case {
        std::map<std::string, std::string> vars;
        bool windows;
        std::string path;
    };
    const std::set<std::string> dirs{"/dbc", "C:\\dbc"};
    for (const auto &c : std::vector<Case>{
             {{{"HOME", "/home/u"}}, false, "/home/u/.cache/vcpkg/archives"},
             {{{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}}, false, "/xdg/vcpkg/archives"},
             {{{"HOME", "/home/u"}, {"XDG_CACHE_HOME", ""}}, false, "/home/u/.cache/vcpkg/archives"},
             {{{"HOME", "/home/u"}, {"VCPKG_DEFAULT_BINARY_CACHE", "/dbc"}, {"XDG_CACHE_HOME", "/xdg"}}, false, "/dbc"},
             {{{"HOME", "/home/u"}, {"VCPKG_DEFAULT_BINARY_CACHE", ""}}, false, "/home/u/.cache/vcpkg/archives"},
             {{{"LOCALAPPDATA", "C:\\Users\\u\\AppData\\Local"}, {"HOME", "/home/u"}}, true,
              "C:\\Users\\u\\AppData\\Local\\vcpkg\\archives"},
             {{{"APPDATA", "C:\\Users\\u\\AppData\\Roaming"}}, true, "C:\\Users\\u\\AppData\\Local\\vcpkg\\archives"},
             {{{"VCPKG_DEFAULT_BINARY_CACHE", "C:\\dbc"}, {"LOCALAPPDATA", "C:\\L"}}, true, "C:\\dbc"}}) {
        const DefaultCache d = default_binary_cache(machine(c.vars, dirs, c.windows));
        EXPECT_EQ(d.path, c.path);
        EXPECT_EQ(d.problem, "") << c.path;
    }
    // What vcpkg refuses (it stops with an error; blobfetch leaves the cache out).
    EXPECT_EQ(default_binary_cache(machine({{"VCPKG_DEFAULT_BINARY_CACHE", "/none"}}, dirs)).problem,
              "Environment variable VCPKG_DEFAULT_BINARY_CACHE must be a directory (was: /none)");
    EXPECT_EQ(default_binary_cache(machine({{"VCPKG_DEFAULT_BINARY_CACHE", "dbc"}}, {"dbc"})).problem,
              "Environment variable VCPKG_DEFAULT_BINARY_CACHE must be absolute (was: dbc)");
    EXPECT_NE(default_binary_cache(machine({{"XDG_CACHE_HOME", "rel"}}, {})).problem, "");
    EXPECT_NE(default_binary_cache(machine({}, {})).problem, "") << "no HOME";
    EXPECT_NE(default_binary_cache(machine({}, {}, true)).problem, "") << "no LOCALAPPDATA or APPDATA";
}

TEST(BinarySources, ReadSourceStrings_DefaultCacheFirst_UnlessClearComesAfterIt) {
    const auto m = machine({{"HOME", "/home/u"}}, {"/home/u/.cache/vcpkg/archives"});
    const std::string def = "/home/u/.cache/vcpkg/archives";
    auto r = read_source_strings({{"VCPKG_BINARY_SOURCES", "http,https://h/{sha}"}}, {}, m);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(locations(*r), (std::vector<std::string>{def, "https://h/{sha}"}));
    EXPECT_TRUE(r->sources[0].default_cache && r->sources[0].read && r->sources[0].write) << "default,readwrite";
    auto cleared = read_source_strings({{"env", "http,https://h/{sha}"}, {"cli", "clear;http,https://i/{sha}"}}, {}, m);
    ASSERT_TRUE(cleared.ok()) << cleared.message();
    EXPECT_EQ(locations(*cleared), (std::vector<std::string>{"https://i/{sha}"}));
    // `default` again after the implied one: one directory, read once.
    auto twice = read_source_strings({{"env", "default;files," + def + "/"}}, {}, m);
    ASSERT_TRUE(twice.ok()) << twice.message();
    EXPECT_EQ(locations(*twice), (std::vector<std::string>{def}));
}

TEST(BinarySources, ReadSourceStrings_DefaultCacheWithoutDirectory_IsLeftOut) {
    auto none = read_source_strings({{"env", "http,https://h/{sha}"}}, {}, machine({{"HOME", "/home/u"}}, {}));
    ASSERT_TRUE(none.ok()) << none.message();
    EXPECT_EQ(locations(*none), (std::vector<std::string>{"https://h/{sha}"}));
    EXPECT_TRUE(none->warnings.empty()) << "vcpkg finds nothing there either; no news";
    auto refused = read_source_strings({{"env", "http,https://h/{sha}"}}, {},
                                       machine({{"VCPKG_DEFAULT_BINARY_CACHE", "/gone"}}, {}));
    ASSERT_TRUE(refused.ok()) << refused.message();
    EXPECT_EQ(locations(*refused), (std::vector<std::string>{"https://h/{sha}"}));
    ASSERT_EQ(refused->warnings.size(), 1u);
    EXPECT_NE(refused->warnings[0].find("VCPKG_DEFAULT_BINARY_CACHE must be a directory (was: /gone)"),
              std::string::npos)
        << refused->warnings[0];
    auto after_clear = read_source_strings({{"env", "clear;http,https://h/{sha}"}}, {},
                                           machine({{"VCPKG_DEFAULT_BINARY_CACHE", "/gone"}}, {}));
    ASSERT_TRUE(after_clear.ok());
    EXPECT_TRUE(after_clear->warnings.empty()) << "a cleared default cache is never looked at";
}

TEST(BinarySources, ReadOrder_FilesFirstThenHttpAndAzblob_ListedSourcesAsWritten) {
    const auto m = machine({{"HOME", "/home/u"}}, {"/home/u/.cache/vcpkg/archives"});
    BinarySource listed_b, listed_a;
    listed_b.location = "https://listed-b/{sha}";
    listed_b.listed = true;
    listed_a.location = "https://listed-a/{sha}";
    listed_a.listed = true;
    auto r = read_source_strings(
        {{"manifest", "http,https://h1/{sha};x-azblob,https://az/c,sig=1;files,/f1"},
         {"env", "files,/f2;http,https://h2/{sha};default,read"}},
        {listed_b, listed_a}, m);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(locations(*r), (std::vector<std::string>{"https://listed-b/{sha}", "https://listed-a/{sha}",
                                                       "/home/u/.cache/vcpkg/archives", "/f1", "/f2",
                                                       "https://h1/{sha}", "https://az/c", "https://h2/{sha}"}));
}

}  // namespace
}  // namespace blobfetch::config
