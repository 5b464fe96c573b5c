// Windows side of host/asset_staging.h, reduced:
// - the staging directory is `.blobfetch-staging` beside {dst}, made when
//   missing; whom it belongs to is left to the directory's ACL (a user's
//   downloads directory is that user's own: Windows has no uid and mode bits
//   to compare, and no `-<uid>` variant is tried);
// - the verified asset is always copied to a placement temporary
//   (`.~bf<pid>-<n>-copy`, locked as a private file is, so gc tells a
//   placement that died), flushed
//   and renamed over {dst} (MoveFileExW, write-through): no hard links, so
//   the POSIX case of two links to one file does not arise.
// The asset's blob lock is held while it is placed, and the SHA-512 of the
// copy checked, as on POSIX.
#ifdef _WIN32
#include "host/asset_staging.h"

#include <windows.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "hash/sha256.h"
#include "io/file.h"
#include "io/positional_writer.h"
#include "lock/blob_lock.h"
#include "lock/dir_lock.h"

namespace blobfetch::host {
namespace {

namespace fs = std::filesystem;

std::string shown(const DirHandle &dir, const std::string &name) { return path_to_utf8(dir.show(name)); }

// The copy, flushed, still open (and so still locked: it is renamed while
// open, so gc never sees it unlocked before it is in place), and the SHA-512
// of the bytes written to it.
struct Copy {
    std::unique_ptr<IPositionalWriter> file;
    std::string sha512;
};
Expected<Copy> copy_durably(int from_fd, const std::string &from, const DirHandle &dir, const std::string &to,
                            const std::function<bool()> &stop) {
    (void)dir.unlink(to);  // a leftover of a placement that died (its pid and count were this process's)
    OpenOptions options;
    options.mode = OpenMode::fresh;
    options.locked = true;
    auto out = open_positional_writer(dir, to, options);
    if (!out) return out.status();
    Sha512 digest;
    std::vector<char> buf(1 << 20);
    for (std::int64_t offset = 0;;) {
        auto n = read_at_most(from_fd, buf.data(), buf.size(), offset, from);
        if (!n) return n.status();
        if (*n == 0) break;
        if (stop()) return Status(Errc::cancelled, "stopped while copying to '" + shown(dir, to) + "'");
        if (Status s = (*out)->write_at(buf.data(), *n, offset); !s.ok()) return s;
        digest.update(buf.data(), *n);
        offset += static_cast<std::int64_t>(*n);
    }
    if (Status s = (*out)->sync(); !s.ok()) return s;
    return Copy{std::move(*out), digest.finish_hex()};
}

}  // namespace

Expected<Staging> prepare_staging(const fs::path &parent_dir) {
    auto parent = DirHandle::open_root(parent_dir, /*create=*/true);
    if (!parent) return parent.status();
    auto staging = DirHandle::open_beneath(*parent, kStagingDir, /*create=*/true);
    if (!staging) return staging.status();
    return Staging{*parent, kStagingDir};
}

std::string staged_relative_path(const Staging &staging, const std::string &sha512_hex) {
    return staging.name + "/" + sha512_hex;
}

Status place_staged(const Staging &staging, const std::string &sha512_hex, const std::string &dst_name,
                    const std::function<bool()> &stop) {
    const DirHandle &parent = *staging.parent;
    const Status stopped(Errc::cancelled, "the caller is gone: nothing placed at '" + shown(parent, dst_name) + "'");
    auto staging_dir = DirHandle::open_beneath(staging.parent, staging.name, /*create=*/false);
    if (!staging_dir) return staging_dir.status();
    const std::string asset = shown(**staging_dir, sha512_hex);
    auto held = lock_staged_asset(**staging_dir, sha512_hex, asset, shown(parent, dst_name), stop);
    if (!held) return held.status();
    UniqueFd staged = (*staging_dir)->open(sha512_hex, O_RDONLY);
    if (!staged && errno == ENOENT)  // removed (gc) after the fetch: the caller fetches again
        return Status(Errc::not_found, "'" + asset + "' was removed before it could be placed");
    if (!staged) return Status(Errc::io, "cannot open '" + asset + "': " + std::strerror(errno));
    const std::string copy_name = placement_temporary_name(GetCurrentProcessId(), PlacementKind::copy);
    auto copy = copy_durably(staged.get(), asset, parent, copy_name, stop);
    if (!copy || copy->sha512 != sha512_hex) {
        // (Closed before they are removed.)
        std::string actual = copy ? copy->sha512 : std::string();
        if (copy) copy->file.reset();
        (void)parent.unlink(copy_name);
        if (!copy) return copy.status();
        staged.reset();
        return discard_altered_asset(**staging_dir, sha512_hex, actual, asset, shown(parent, dst_name));
    }
    if (stop()) {
        (void)parent.unlink(copy_name);
        return stopped;
    }
    if (const int re = parent.rename(copy_name, dst_name); re != 0) {
        (void)parent.unlink(copy_name);
        return Status(Errc::io, "cannot rename '" + shown(parent, copy_name) + "' to '" + shown(parent, dst_name) +
                                    "': " + std::strerror(re));
    }
    return Status::success();
}

}  // namespace blobfetch::host
#endif  // _WIN32
