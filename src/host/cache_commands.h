#pragma once
// The host's cache maintenance commands: `status` (unfinished downloads),
// `gc` (leftovers of interrupted or abandoned downloads) and `verify`
// (re-hash what a manifest says is cached). They read the cache directly (the
// .dlstate format, the directory lock); they never download.

#include <ostream>
#include <string>

namespace blobfetch::host {

// Lists every unfinished download under `cache`: blob, percent done, remote
// identity, age, and whether a process is working on it. Returns an exit code.
int run_status(const std::string &cache, bool json, std::ostream &out);

// Removes, in every directory whose lock it can take: temporaries of
// interrupted sidecar saves, partial files without a usable record, records
// without data or of blobs already published, private files of processes
// that are gone, and (with `all`) every unfinished download. Directories in
// use by a running fetch are left alone. Returns an exit code.
int run_gc(const std::string &cache, bool all, bool dry_run, bool json, std::ostream &out);

// Re-hashes every blob of a manifest in its cache: ok, missing, wrong size or
// corrupt. Exit code 0 when all are ok, 1 otherwise, 2 for a bad manifest.
int run_verify(const std::string &manifest, const std::string &cache_override, bool json, std::ostream &out);

}  // namespace blobfetch::host
