#pragma once
// Where `blobfetch x-script` (vcpkg's asset caching) keeps an asset while it
// downloads, and how the verified file reaches vcpkg's {dst}.
//
// vcpkg passes {dst} as `<downloads>/<file>.<vcpkg pid>.part`: a new name for
// every vcpkg process, so a download keyed on it could never resume. The
// asset is therefore downloaded as the blob `.blobfetch-staging/<sha512>` of
// the directory that holds {dst} (the cache directory of that fetch): its
// partial file and record are keyed on the content, so any later run for the
// same SHA-512 resumes them, whatever its {dst}, and two processes on one
// asset share one download through its lock. The verified staged file is then
// hard-linked to {dst} (copied where the file system has no hard links); it
// stays, sharing its blocks with vcpkg's copy, so the same asset asked for
// again is placed at once. `blobfetch gc` removes staged assets no other link
// points at any more.

#include <filesystem>
#include <string>

#include "base/status.h"

namespace blobfetch::host {

// ".blobfetch-staging"
inline constexpr const char *kStagingDir = ".blobfetch-staging";

// The staged asset's path relative to the directory of {dst}:
// ".blobfetch-staging/<sha512>" (lower-case hex).
std::string staged_relative_path(const std::string &sha512_hex);

// Makes `dst` name the bytes of the verified `staged` file: a hard link (an
// existing `dst` is replaced atomically), else a copy written beside `dst`,
// flushed and renamed over it. Errors name both files.
Status place_staged(const std::filesystem::path &staged, const std::filesystem::path &dst);

}  // namespace blobfetch::host
