// The same binary source strings through the real vcpkg and through
// blobfetch: a `vcpkg install` of a trivial overlay port against the fault
// server (which records every request) shows what vcpkg reads and in which
// order; `blobfetch fetch` of a manifest naming the same package (name,
// version, triplet, vcpkg's ABI hash) must request the same paths in the same
// order, and refuse what vcpkg refuses with vcpkg's reason.
//
// Needs ../shared/vcpkg next to the source tree (the vcpkg tool and a root,
// see its README), cmake, zip and unzip; skipped otherwise. vcpkg runs with
// VCPKG_FORCE_SYSTEM_BINARIES=1 and every URL on 127.0.0.1.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/fault_server.h"
#include "support/fixture.h"
#include "support/process.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

fs::path vcpkg_dir() { return fs::path(source_dir()) / ".." / "shared" / "vcpkg"; }

bool in_path(const std::string &tool) {
    const char *path = std::getenv("PATH");
    std::string p = path ? path : "";
    for (std::size_t start = 0; start <= p.size();) {
        std::size_t end = p.find(':', start);
        if (end == std::string::npos) end = p.size();
        if (access((p.substr(start, end - start) + "/" + tool).c_str(), X_OK) == 0) return true;
        start = end + 1;
    }
    return false;
}

// "%7B" -> "{": vcpkg sends a brace as it is, blobfetch percent-encodes it
// (the same resource for a server).
std::string percent_decoded(const std::string &s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

class VcpkgSources : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(vcpkg_dir() / "vcpkg") || !fs::exists(vcpkg_dir() / "root"))
            GTEST_SKIP() << "the real vcpkg is not at " << vcpkg_dir().string() << " (see its README)";
        for (const char *tool : {"cmake", "zip", "unzip"})
            if (!in_path(tool)) GTEST_SKIP() << tool << " is not installed (vcpkg install needs it)";
        // A root of our own: the shared one is read-only.
        fs::copy(vcpkg_dir() / "root", m_dir / "root", fs::copy_options::recursive);
        for (const auto &e : fs::recursive_directory_iterator(m_dir / "root"))
            fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
        fs::permissions(m_dir / "root", fs::perms::owner_write, fs::perm_options::add);
        write_file(m_dir / "ports/demo/vcpkg.json", R"({"name": "demo", "version": "1.0.0"})");
        write_file(m_dir / "ports/demo/portfile.cmake",
                   "set(VCPKG_POLICY_EMPTY_INCLUDE_FOLDER enabled)\n"
                   "set(VCPKG_BUILD_TYPE release)\n"
                   "file(WRITE \"${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright\" \"test\\n\")\n");
    }

    // The environment of both tools: a home of the test's own, nothing
    // inherited that changes what is read, no proxy between them and
    // 127.0.0.1.
    ProcessOptions env(const std::string &home) const {
        ProcessOptions o;
        o.env["HOME"] = home;
        o.env["VCPKG_ROOT"] = m_dir / "root";
        o.env["VCPKG_DISABLE_METRICS"] = "1";
        o.env["VCPKG_FORCE_SYSTEM_BINARIES"] = "1";
        for (const char *name : {"XDG_CACHE_HOME", "VCPKG_DEFAULT_BINARY_CACHE", "VCPKG_BINARY_SOURCES",
                                 "X_VCPKG_ASSET_SOURCES", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                 "all_proxy", "ALL_PROXY"})
            o.env[name] = std::nullopt;
        return o;
    }

    // `vcpkg install demo --binarysource=<sources>` (after removing it, so
    // every run reads the sources again; not needed when the sources are refused).
    ProcessResult vcpkg_install(const std::string &sources, const std::string &home, bool remove_first = true) {
        const std::string vcpkg = (vcpkg_dir() / "vcpkg").string();
        const std::vector<std::string> common{"--overlay-ports=" + (m_dir / "ports"), "--classic",
                                              "--triplet=x64-linux"};
        std::vector<std::string> remove{vcpkg, "remove", "demo"};
        remove.insert(remove.end(), common.begin(), common.end());
        if (remove_first) run_process(remove, env(home));
        std::vector<std::string> install{vcpkg, "install", "demo", "--binarysource=" + sources};
        install.insert(install.end(), common.begin(), common.end());
        return run_process(install, env(home));
    }

    // `blobfetch fetch` of the package vcpkg builds, from `sources`.
    HostRun blobfetch_fetch(const std::string &sources, const std::string &home) {
        nlohmann::json m{{"version", 1},
                         {"cache_dir", m_dir / "blobfetch-cache"},
                         {"binary_sources", sources},
                         {"options", {{"retries", 0}}},
                         {"artifacts", {{{"name", "demo"}, {"version", "1.0.0"}, {"triplet", "x64-linux"}, {"sha", m_abi}}}}};
        write_file(m_dir / "m.json", m.dump());
        fs::remove_all(m_dir / "blobfetch-cache");
        return run_host_fetch(m_dir / "m.json", {}, env(home));
    }

    // The paths requested since `from` (in first-request order, each once,
    // percent-decoded), and the header blocks they came with.
    std::vector<std::string> paths_since(std::size_t from, std::string *headers = nullptr) const {
        std::vector<std::string> out;
        const auto all = m_server.requests();
        for (std::size_t i = from; i < all.size(); ++i) {
            const std::string p = percent_decoded(all[i].path);
            if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
            if (headers) *headers += all[i].headers + "\n";
        }
        return out;
    }

    // Builds the package once into a files cache (write only) and learns its
    // ABI hash from the archive's name: <dir>/<ab>/<abi>.zip.
    void build_archive() {
        ProcessResult r = vcpkg_install("clear;files," + (m_dir / "archives") + ",write", m_dir / "home-build");
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        for (const auto &e : fs::recursive_directory_iterator(m_dir / "archives"))
            if (e.path().extension() == ".zip") m_abi = e.path().stem().string();
        ASSERT_EQ(m_abi.size(), 64u) << "no archive under " << (m_dir / "archives");
        m_archive = m_dir / ("archives/" + m_abi.substr(0, 2) + "/" + m_abi + ".zip");
    }

    TempDir m_dir;
    FaultServer m_server;
    std::string m_abi, m_archive;
};

TEST_F(VcpkgSources, HttpTemplates_SamePathsInTheSameOrder) {
    build_archive();
    const std::string b = m_server.base_url();
    // No {sha}; "{{" and "}}"; '$'; x-azblob on 127.0.0.1 between http
    // templates; a header field without ':'; an empty files directory
    // written last (read first, finds nothing).
    const std::string sources = "clear;http," + b + "/nosha;http," + b + "/a{{b}}c/{sha};http," + b +
                                "/d${sha};x-azblob," + b + "/az,sig=1;http," + b +
                                "/h/{sha},read,NoColonHeader;files," + (m_dir / "empty");
    fs::create_directories(m_dir / "empty");
    const std::vector<std::string> expected{"/nosha/" + m_abi + ".zip", "/a{b}c/" + m_abi, "/d$" + m_abi,
                                            "/az/" + m_abi + ".zip", "/h/" + m_abi};
    std::size_t mark = m_server.requests().size();
    ProcessResult v = vcpkg_install(sources, m_dir / "home-v");
    ASSERT_EQ(v.exit_code, 0) << v.out << v.err;  // nothing restored: vcpkg built it
    std::string vcpkg_headers;
    EXPECT_EQ(paths_since(mark, &vcpkg_headers), expected);

    mark = m_server.requests().size();
    HostRun f = blobfetch_fetch(sources, m_dir / "home-b");
    EXPECT_EQ(f.process.exit_code, 1) << "404 everywhere: " << f.process.err;
    std::string blobfetch_headers;
    EXPECT_EQ(paths_since(mark, &blobfetch_headers), expected) << f.process.err;
    EXPECT_NE(f.process.err.find("the header field has no ':'"), std::string::npos) << f.process.err;
    for (const std::string *h : {&vcpkg_headers, &blobfetch_headers})
        EXPECT_EQ(h->find("NoColonHeader"), std::string::npos) << "libcurl sends no such line: " << *h;
}

TEST_F(VcpkgSources, FilesBeforeHttp_AndTheDefaultCacheFirst) {
    build_archive();
    const std::string b = m_server.base_url();
    // files written after http: read first, and it has the package.
    const std::string mixed = "clear;http," + b + "/first/{sha};files," + (m_dir / "archives");
    std::size_t mark = m_server.requests().size();
    ProcessResult v = vcpkg_install(mixed, m_dir / "home-v1");
    ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("Restored 1 package(s) from " + (m_dir / "archives")), std::string::npos) << v.out;
    EXPECT_EQ(paths_since(mark), std::vector<std::string>{});
    HostRun f = blobfetch_fetch(mixed, m_dir / "home-b1");
    ASSERT_EQ(f.process.exit_code, 0) << f.process.err;
    EXPECT_EQ(paths_since(mark), std::vector<std::string>{});
    EXPECT_EQ(f.json["blobs"][0]["source"], "files," + (m_dir / "archives")) << f.json;

    // No clear: the default cache (~/.cache/vcpkg/archives) is read first.
    for (const std::string &home : {m_dir / "home-v2", m_dir / "home-b2"}) {
        const fs::path dir = fs::path(home) / ".cache/vcpkg/archives" / m_abi.substr(0, 2);
        fs::create_directories(dir);
        fs::copy_file(m_archive, dir / (m_abi + ".zip"));
    }
    const std::string plain = "http," + b + "/second/{sha}";
    v = vcpkg_install(plain, m_dir / "home-v2");
    ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("Restored 1 package(s) from " + (m_dir / "home-v2/.cache/vcpkg/archives")), std::string::npos)
        << v.out;
    f = blobfetch_fetch(plain, m_dir / "home-b2");
    ASSERT_EQ(f.process.exit_code, 0) << f.process.err;
    EXPECT_EQ(paths_since(mark), std::vector<std::string>{});
    EXPECT_NE(f.json["blobs"][0]["source"].get<std::string>().find("home-b2/.cache/vcpkg/archives"), std::string::npos)
        << f.json;

    // A home without the default cache: both go on to the server.
    v = vcpkg_install(plain, m_dir / "home-v3");
    ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_EQ(paths_since(mark), std::vector<std::string>{"/second/" + m_abi});
    mark = m_server.requests().size();
    f = blobfetch_fetch(plain, m_dir / "home-b3");
    EXPECT_EQ(paths_since(mark), std::vector<std::string>{"/second/" + m_abi});
    EXPECT_EQ(f.process.err.find("default"), std::string::npos) << "a missing default cache is no news: " << f.process.err;
}

TEST_F(VcpkgSources, RefusedByBoth_WithVcpkgsReason) {
    m_abi = std::string(64, '0');  // never reached
    for (const auto &[sources, reason] : std::vector<std::pair<std::string, std::string>>{
             {"clear;x-azblob,https://h.invalid/c,?sig=1",
              "invalid argument: binary config 'azblob' requires a SAS token without a preceeding '?' as the second "
              "argument"},
             {"clear; ;http,https://h.invalid/{sha}", "unknown binary provider type: valid providers are"},
             {"clear;http,https://h.invalid/{name}", "The {sha} variable must be used in the template if other "
                                                     "variables are used."},
             {"clear;http,https://h.invalid/a}b", "invalid format string: https://h.invalid/a}b"}}) {
        ProcessResult v = vcpkg_install(sources, m_dir / "home-v", false);
        EXPECT_NE(v.exit_code, 0) << sources;
        EXPECT_NE((v.out + v.err).find(reason), std::string::npos) << sources << ": " << v.out << v.err;
        HostRun f = blobfetch_fetch(sources, m_dir / "home-b");
        EXPECT_EQ(f.process.exit_code, 2) << sources;
        EXPECT_NE(f.process.err.find(reason), std::string::npos) << sources << ": " << f.process.err;
    }
    EXPECT_TRUE(m_server.requests().empty());
}

}  // namespace
}  // namespace blobfetch::test
