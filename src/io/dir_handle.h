#pragma once
// Directory handles: every file a fetch creates, opens, renames or removes
// inside the cache goes through the open directory that holds it, so nothing
// swapped in under a path (a symbolic link, a directory moved away) can
// redirect it once the directory was opened.
//
// A handle is opened beneath the cache root, one component at a time, never
// following a symbolic link and never leaving the root: openat2() with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it (Linux 5.6+),
// else openat(O_NOFOLLOW | O_DIRECTORY) per component. The cache root itself
// is the user's path and may be a link. Every name given to a handle's
// operations is one path component; a final symbolic link is never followed
// (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW).
//
// Thread safety: a handle is immutable after opening and may be used from
// any thread; sync() coalesces concurrent callers (group commit).
//
// Windows (dir_handle_win32.cpp) has no openat: the same interface works on
// paths below the handle's own (UTF-16, `\\?\`), and a handle holds its
// directory open without FILE_SHARE_DELETE, so that while it is open the
// directory (and every directory above it) cannot be renamed, removed or
// replaced by a link. What is weaker there: a directory that is not open
// could be swapped for a junction by someone allowed to, between two
// handles' opening (each component is checked when opened, not after); a
// name is never resolved through a final reparse point (a link or junction:
// ELOOP), as O_NOFOLLOW does; names with ':' (alternate data streams), '\\'
// or '/' are refused (EINVAL). sync() and sync_created() are no-ops there
// (NTFS journals metadata; renames are made write-through).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>
#include <sys/types.h>

#include "base/status.h"
#include "io/file.h"

namespace blobfetch {

class DirHandle {
public:
    // Opens (with `create`, first creating it and its parents) the cache
    // root. Errc::not_found when it does not exist and !create.
    static Expected<std::shared_ptr<DirHandle>> open_root(const std::filesystem::path &root, bool create);

    // Opens `relative` ('/'-separated components, already checked by
    // check_relative_path; "" is the root itself) beneath `root`. With
    // `create`, missing directories are made (mode 0777 minus the umask);
    // `known_missing` (the caller just found it missing) skips the first
    // look. Errc::not_found: a component is missing (without `create`);
    // Errc::unsafe_path: a component is a symbolic link or no directory (the
    // message names it); Errc::io otherwise.
    static Expected<std::shared_ptr<DirHandle>> open_beneath(const std::shared_ptr<DirHandle> &root,
                                                             std::string_view relative, bool create,
                                                             bool known_missing = false);

    ~DirHandle() = default;
    DirHandle(const DirHandle &) = delete;
    DirHandle &operator=(const DirHandle &) = delete;

    int fd() const { return m_fd.get(); }
    // The directory's path as shown in messages.
    const std::filesystem::path &path() const { return m_path; }
    // path() / name, for messages.
    std::filesystem::path show(std::string_view name) const { return m_path / path_from_utf8(name); }

    // openat(fd, name, flags | O_CLOEXEC | O_NOFOLLOW, mode); errno on failure.
    UniqueFd open(std::string_view name, int flags, mode_t mode = 0) const;
    // fstatat(..., AT_SYMLINK_NOFOLLOW): 0, or errno.
    int stat(std::string_view name, struct stat &st) const;
    // renameat within this directory: 0, or errno.
    int rename(std::string_view from, std::string_view to) const;
    // unlinkat: 0, or errno (ENOENT included: callers decide).
    int unlink(std::string_view name) const;
    // Removes `name` when it exists; ENOENT is success. Errors name the file.
    Status remove(std::string_view name) const;

    // Makes every create, rename and unlink done in this directory before the
    // call durable (fsync of the directory). Concurrent callers share one
    // fsync where they can: a caller whose changes an fsync already started
    // after them covers returns when that one ends. A file system that cannot
    // fsync directories (EINVAL) counts as done.
    Status sync() const;

    // Makes the directories this handle created (and their entries in the
    // directories holding them) durable: fsync of each parent in which
    // open_beneath() made a component, once. A no-op when it created nothing
    // or did this already. Thread-safe.
    Status sync_created() const;

    // True when `relative` beneath `root` still names this very directory
    // (same device and inode), i.e. it was not moved away or replaced.
    bool still_at(const DirHandle &root, std::string_view relative) const;

private:
    DirHandle(UniqueFd fd, std::filesystem::path path);

    UniqueFd m_fd;
    std::filesystem::path m_path;
    std::uint64_t m_dev = 0;  // st_dev (Windows: the volume's serial number)
    std::uint64_t m_ino = 0;  // st_ino (Windows: the file index)
#ifdef _WIN32
    std::wstring m_os_path;   // the directory as Windows is given it (win32::long_path)
#endif
    // The parents in which components were created: the root's handle for
    // the first, owned descriptors below it; synced once by sync_created().
    std::shared_ptr<DirHandle> m_created_in_root;
    mutable std::vector<UniqueFd> m_created_in;
    mutable std::mutex m_created_mutex;
    mutable bool m_created_synced = true;

    // Group commit of directory syncs.
    mutable std::mutex m_sync_mutex;
    mutable std::condition_variable m_sync_done;
    mutable std::uint64_t m_requests = 0;   // sync() calls so far
    mutable std::uint64_t m_covered = 0;    // calls up to this one are durable
    mutable bool m_syncing = false;
};

// The directories of one fetch, shared by every blob (and thread) that needs
// them: a directory in use is opened once, and the last few used stay open
// (a fetch over 10,000 directories never holds 10,000 descriptors; those in
// use are the blobs' own). Thread-safe.
class DirCache {
public:
    explicit DirCache(std::filesystem::path root) : m_root_path(std::move(root)) {}

    const std::filesystem::path &root_path() const { return m_root_path; }
    // The handle of `relative_dir` beneath the root ("" for the root), opened
    // on first use; with `create`, the root and the directories are created
    // when missing. A directory found missing without `create` is looked for
    // again next time.
    Expected<std::shared_ptr<DirHandle>> get(const std::string &relative_dir, bool create);
    // The root's handle, when opened (for still_at checks).
    std::shared_ptr<DirHandle> root();

private:
    std::filesystem::path m_root_path;
    std::mutex m_mutex;
    std::shared_ptr<DirHandle> m_root;
    bool m_root_missing = false;               // found missing (without create)
    std::map<std::string, std::weak_ptr<DirHandle>> m_dirs;  // while someone holds them
    std::vector<std::shared_ptr<DirHandle>> m_recent;        // the last few used, kept open
    std::size_t m_next_recent = 0;
    std::set<std::string> m_missing;           // found missing (without create)
};

// The directory part of a relative blob path ("a/b/c.zip" -> "a/b", "c.zip" -> "").
std::string relative_dir_of(std::string_view relative_path);
// Its last component ("a/b/c.zip" -> "c.zip").
std::string file_name_of(std::string_view relative_path);

}  // namespace blobfetch
