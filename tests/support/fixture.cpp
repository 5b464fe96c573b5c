#include "support/fixture.h"

#include "support/blob_content.h"

#include <cerrno>

#include <fcntl.h>

namespace blobfetch::test {

std::string abi_key(const std::string &label) { return sha256_hex("abi:" + label); }

void serve_artifacts(const std::string &root, std::vector<TestArtifact> &artifacts) {
    for (auto &a : artifacts) a.sha256 = write_blob(root + "/" + a.relative_path(), a.seed, a.size);
}

nlohmann::json make_manifest(const std::string &base_url, const std::string &cache_dir,
                             const std::vector<TestArtifact> &artifacts, const nlohmann::json &options) {
    nlohmann::json m;
    m["version"] = 1;
    m["cache_dir"] = cache_dir;
    m["sources"] = nlohmann::json::array({{{"name", "test"}, {"url", base_url + "/{name}/{sha}.zip"}}});
    if (!options.empty()) m["options"] = options;
    m["artifacts"] = nlohmann::json::array();
    for (const auto &a : artifacts)
        m["artifacts"].push_back({{"name", a.name},
                                  {"version", "1.0"},
                                  {"triplet", "x64-linux"},
                                  {"sha", a.abi},
                                  {"size", a.size},
                                  {"sha256", a.sha256}});
    return m;
}

HostRun run_host_fetch(const std::string &manifest_path, const std::vector<std::string> &extra,
                       const ProcessOptions &options) {
    std::vector<std::string> argv{host_binary(), "fetch", manifest_path, "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    HostRun run;
    // vcpkg's default binary cache is read with any source string: never the
    // one of whoever runs the tests (a directory that does not exist), unless
    // the test sets where it is.
    ProcessOptions isolated = options;
    if (!options.env.count("HOME") && !options.env.count("XDG_CACHE_HOME") &&
        !options.env.count("VCPKG_DEFAULT_BINARY_CACHE")) {
        isolated.env["XDG_CACHE_HOME"] = "/nonexistent/blobfetch-tests-xdg-cache";
        isolated.env["VCPKG_DEFAULT_BINARY_CACHE"] = std::nullopt;
    }
    run.process = run_process(argv, isolated);
    run.json = nlohmann::json::parse(run.process.out, nullptr, false);
    if (run.json.is_discarded()) run.json = nullptr;
    return run;
}

}  // namespace blobfetch::test

namespace blobfetch::test {
bool lock_whole_file(int fd, bool wait) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    int r;
    do {
        r = ::fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
    } while (r != 0 && errno == EINTR);
    return r == 0;
}
}  // namespace blobfetch::test
