#pragma once
// Building blocks for end-to-end tests: artifacts served by nginx, manifests
// that point at them, and running the host on them.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.h"

namespace blobfetch::test {

struct TestArtifact {
    std::string name;
    std::string abi;          // the "sha" field: the ABI key used in URLs and cache paths
    std::uint64_t seed = 0;   // content seed
    std::uint64_t size = 0;
    std::string sha256;       // filled by serve_artifacts

    std::string relative_path() const { return name + "/" + abi + ".zip"; }
};

// A 64-hex ABI key derived from a label (deterministic).
std::string abi_key(const std::string &label);

// Writes every artifact's content under `root` at relative_path() and fills
// in its sha256.
void serve_artifacts(const std::string &root, std::vector<TestArtifact> &artifacts);

// A manifest (JSON) whose single source is `base_url` + "/{name}/{sha}.zip".
nlohmann::json make_manifest(const std::string &base_url, const std::string &cache_dir,
                             const std::vector<TestArtifact> &artifacts,
                             const nlohmann::json &options = nlohmann::json::object());

// Runs `blobfetch fetch <manifest> --json <extra...>` and parses stdout.
struct HostRun {
    ProcessResult process;
    nlohmann::json json;  // null when stdout was not one JSON document
};
HostRun run_host_fetch(const std::string &manifest_path, const std::vector<std::string> &extra = {},
                       const ProcessOptions &options = {});

}  // namespace blobfetch::test

namespace blobfetch::test {
// Takes the whole-directory lock on an open `.download.lock` (a write lock
// on every byte, as src/lock/dir_lock.h does), without waiting when `wait`
// is false: what a test does to play "another process holds the directory".
// False on failure (errno set).
bool lock_whole_file(int fd, bool wait = true);
}  // namespace blobfetch::test
