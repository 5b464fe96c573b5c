#pragma once
// Where `blobfetch x-script` (vcpkg's asset caching) keeps an asset while it
// downloads, and how the verified file reaches vcpkg's {dst}.
//
// vcpkg passes {dst} as `<downloads>/<file>.<vcpkg pid>.part`: a new name for
// every vcpkg process, so a download keyed on it could never resume. The
// asset is therefore downloaded as the blob `<staging>/<sha512>` of the
// directory that holds {dst} (the cache directory of that fetch): its
// partial file and record are keyed on the content, so any later run for the
// same SHA-512 resumes them, whatever its {dst}, and two processes on one
// asset share one download through its lock. The verified staged file is then
// hard-linked to {dst} when no other name links to it yet, else copied (a
// reflink where the file system can; see place_staged for why), and copied
// where the file system has no hard links. It stays, so the same asset asked
// for again is placed at once; `blobfetch gc` removes staged assets that no
// other name links to any more, and leftovers of placements that died.
//
// The staging directory is this user's own: `.blobfetch-staging`, made 0700,
// used only when it belongs to the effective user and no one else may write
// in it (else `.blobfetch-staging-<uid>`, under the same rules). Nobody else
// can then swap the verified file before it is placed: in a shared downloads
// directory another user could otherwise replace it between the check and the
// link. The placing goes through directory handles, never following a link.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "io/dir_handle.h"
#include "lock/blob_lock.h"

namespace blobfetch::host {

inline constexpr const char *kStagingDir = ".blobfetch-staging";

struct Staging {
    std::shared_ptr<DirHandle> parent;  // the directory of {dst}
    std::string name;                   // the staging directory's name in it
};

// Picks (creating it when missing) this user's staging directory in
// `parent_dir`. Errors name the directory and say what to do.
Expected<Staging> prepare_staging(const std::filesystem::path &parent_dir);

// The staged asset's path relative to the directory of {dst}:
// "<staging>/<sha512>" (lower-case hex).
std::string staged_relative_path(const Staging &staging, const std::string &sha512_hex);

// Keeps gc out of the staging directory for as long as it lives: a blob lock
// under a name of this call's own (never an asset's: the engine takes the
// asset's lock to fetch it), which gc's whole-directory lock excludes. Taken
// before the asset is fetched and held until it is placed, so that gc never
// removes it in between. Waits (every 100 ms, at most a minute, while `stop`
// says false) only while gc holds the directory. On a file system whose locks
// do nothing it is taken but excludes nobody: gc then leaves the directory
// alone anyway (it cannot tell what is in use there).
Expected<std::unique_ptr<BlobLock>> hold_staging(const Staging &staging, const std::function<bool()> &stop);

// Makes `dst_name` (in the directory of {dst}) name the bytes of the staged
// asset: a hard link when nothing else links to it yet (an existing
// `dst_name` is replaced atomically), else a copy (or reflink) written beside
// it under a placement temporary's name (below), flushed and renamed over it.
// The SHA-512 of the bytes placed (the linked file, the copy) is checked
// under the asset's lock before they reach `dst_name`, whatever the engine
// checked: a file linked at an earlier {dst} and edited in place there is the
// staged asset edited. On a mismatch nothing is placed, the staged asset is
// removed and the error is Errc::verify: fetch it again.
// First checks again that the staging directory is still this user's own
// (so that no one could have swapped the file). Errors name the files.
// `stop` is asked while it waits, hashes, copies and before it renames: true
// (the caller is gone) places nothing (Errc::cancelled).
Status place_staged(const Staging &staging, const std::string &sha512_hex, const std::string &dst_name,
                    const std::function<bool()> &stop);

// place_staged's wait for the staged asset's lock (both platforms'): gc,
// which removes staged assets nothing links to, takes the staging
// directory's whole lock, so it cannot remove the asset between the check
// and the link or copy. Tries every 100 ms for at most a minute while
// `stop` says false; the errors say that nothing was placed at `dst_shown`.
Expected<std::unique_ptr<BlobLock>> lock_staged_asset(const DirHandle &staging_dir, const std::string &sha512_hex,
                                                     const std::string &asset_shown, const std::string &dst_shown,
                                                     const std::function<bool()> &stop);

// (Both platforms' place_staged.) The SHA-512 (lower-case hex) of what `fd`
// holds, read from offset 0; `shown` names the file in errors; `stop`
// (asked every MiB) ends it with Errc::cancelled, naming `dst_shown`.
Expected<std::string> sha512_of(int fd, const std::string &shown, const std::string &dst_shown,
                                const std::function<bool()> &stop);

// (Both platforms' place_staged.) Removes the staged asset `sha512_hex` of
// `staging_dir`, whose bytes hash to `actual` instead (the caller holds the
// asset's lock), and returns the Errc::verify saying so, naming the asset
// (`asset_shown`) and `dst_shown`, where nothing was placed.
Status discard_altered_asset(const DirHandle &staging_dir, const std::string &sha512_hex, const std::string &actual,
                             const std::string &asset_shown, const std::string &dst_shown);

// The temporaries x-script makes beside {dst} while it places the asset:
// `.~bf<pid>-<n>-link` (the link, renamed over {dst}) and
// `.~bf<pid>-<n>-copy` (the copy), where n counts the names this process
// made. Short whatever {dst}'s length (a few dozen bytes at most: {dst}
// itself may use the whole file-name limit). Each is held (POSIX: flock,
// shared; Windows: a locked range) by the placing process for as long as it
// exists, so `gc` (host/cache_commands.h) removes one only when its process
// is gone.
enum class PlacementKind { link, copy };
std::string placement_temporary_name(unsigned long pid, PlacementKind kind);

// Whether `name` is a placement temporary's name: placement_temporary_name's,
// or `<dst>.~bf<pid>-link` / `-copy` (older versions' names). Nothing else
// matches: gc touches only blobfetch's own files.
bool is_placement_temporary(const std::string &name);

}  // namespace blobfetch::host
