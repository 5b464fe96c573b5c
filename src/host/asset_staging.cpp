// POSIX; the Windows side is asset_staging_win32.cpp.
#ifndef _WIN32
#include "host/asset_staging.h"

#include <cerrno>
#include <cstring>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#ifdef __linux__
#include <linux/fs.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include "hash/sha256.h"
#include "io/file.h"
#include "lock/blob_lock.h"
#include "lock/dir_lock.h"

namespace blobfetch::host {
namespace {

namespace fs = std::filesystem;

// Opens `name` in `parent` as a staging directory this user alone controls;
// with `create`, makes it (0700) when missing. An empty handle (and a reason)
// when it exists but is someone else's or writable by others.
Expected<UniqueFd> open_own_directory(const DirHandle &parent, const std::string &name, bool create,
                                      std::string &why_not) {
    if (create && ::mkdirat(parent.fd(), name.c_str(), 0700) != 0 && errno != EEXIST)
        return Status(Errc::io, "cannot create '" + parent.show(name).string() + "': " + std::strerror(errno));
    UniqueFd fd = parent.open(name, O_RDONLY | O_DIRECTORY);
    if (!fd) {
        if (errno == ELOOP || errno == ENOTDIR) {
            why_not = "'" + parent.show(name).string() + "' is a link or no directory";
            return UniqueFd();
        }
        return Status(Errc::io, "cannot open '" + parent.show(name).string() + "': " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return Status(Errc::io, "cannot inspect '" + parent.show(name).string() + "': " + std::strerror(errno));
    if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
        why_not = "'" + parent.show(name).string() + "' belongs to another user or others may write in it";
        return UniqueFd();
    }
    return fd;
}

// Copies `from_fd` to `to` in `dir` (created; flushed) and returns the
// SHA-512 of the bytes the copy holds: those hashed as they are written, or
// (a reflink, which copies no bytes) read back from the copy.
Expected<std::string> copy_file_durably(int from_fd, const std::string &from, const DirHandle &dir,
                                        const std::string &to, const std::function<bool()> &stop) {
    const std::string shown = dir.show(to).string();
    UniqueFd out = dir.open(to, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (!out) return Status(Errc::io, "cannot create '" + shown + "': " + std::strerror(errno));
    while (::flock(out.get(), LOCK_SH) != 0 && errno == EINTR) {  // (gc: held while it is written)
    }
#ifdef FICLONE
    // A reflink where the file system shares blocks (btrfs, XFS): no bytes copied.
    if (::ioctl(out.get(), FICLONE, from_fd) == 0) {
        if (Status s = sync_data(out.get(), shown); !s.ok()) return s;
        return sha512_of(out.get(), shown, shown, stop);
    }
#endif
    Sha512 digest;
    std::vector<char> buf(1 << 20);
    std::int64_t offset = 0;
    for (;;) {
        const ssize_t n = ::pread(from_fd, buf.data(), buf.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status(Errc::io, "cannot read '" + from + "': " + std::strerror(errno));
        if (n == 0) break;
        if (stop()) return Status(Errc::cancelled, "stopped while copying to '" + shown + "'");
        if (Status s = write_all_at(out.get(), buf.data(), static_cast<std::size_t>(n), offset, shown); !s.ok())
            return s;
        digest.update(buf.data(), static_cast<std::size_t>(n));
        offset += n;
    }
    if (Status s = sync_data(out.get(), shown); !s.ok()) return s;
    return digest.finish_hex();
}

}  // namespace

Expected<Staging> prepare_staging(const fs::path &parent_dir) {
    auto parent = DirHandle::open_root(parent_dir, /*create=*/true);
    if (!parent) return parent.status();
    std::string why_shared, why_own;
    for (const std::string &name : {std::string(kStagingDir), std::string(kStagingDir) + "-" + std::to_string(::geteuid())}) {
        auto fd = open_own_directory(**parent, name, /*create=*/true, name == kStagingDir ? why_shared : why_own);
        if (!fd) return fd.status();
        if (*fd) return Staging{*parent, name};
    }
    return Status(Errc::io, "no staging directory of this user's own in '" + parent_dir.string() + "': " + why_shared +
                                ", and " + why_own + "; remove them or give {dst} another directory");
}

std::string staged_relative_path(const Staging &staging, const std::string &sha512_hex) {
    return staging.name + "/" + sha512_hex;
}

Status place_staged(const Staging &staging, const std::string &sha512_hex, const std::string &dst_name,
                    const std::function<bool()> &stop) {
    const Status stopped(Errc::cancelled, "the caller is gone: nothing placed at '" + staging.parent->show(dst_name).string() + "'");
    const DirHandle &parent = *staging.parent;
    std::string why_not;
    auto own = open_own_directory(parent, staging.name, /*create=*/false, why_not);
    if (!own) return own.status();
    if (!*own)
        return Status(Errc::io, why_not + " now (it was this user's own when the download started); nothing was "
                                          "placed at '" + parent.show(dst_name).string() + "'");
    const std::string shown = parent.show(staging.name).string() + "/" + sha512_hex;
    const std::string dst_shown = parent.show(dst_name).string();
    // The asset's lock, held while it is placed: gc (which removes staged
    // assets nothing links to) takes the staging directory's whole lock, so
    // it cannot remove the asset between its check and the link; another
    // x-script finding it altered waits before removing it.
    auto staging_dir = DirHandle::open_beneath(staging.parent, staging.name, /*create=*/false);
    if (!staging_dir) return staging_dir.status();
    auto held = lock_staged_asset(**staging_dir, sha512_hex, shown, dst_shown, stop);
    if (!held) return held.status();
    UniqueFd staged(::openat(own->get(), sha512_hex.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!staged && errno == ENOENT)  // removed (gc) after the fetch: the caller fetches again
        return Status(Errc::not_found, "'" + shown + "' was removed before it could be placed");
    if (!staged) return Status(Errc::io, "cannot open '" + shown + "': " + std::strerror(errno));
    // Held (shared) while it is placed: gc tells a placement that died by
    // its temporary no longer being held (the link is this very file).
    while (::flock(staged.get(), LOCK_SH) != 0 && errno == EINTR) {
    }
    struct stat st {};
    if (::fstat(staged.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(Errc::io, "'" + shown + "' is not a regular file");
    // vcpkg renames {dst} (`<file>.<pid>.part`) to `<file>` afterwards. Were
    // the staged asset linked to two vcpkgs' {dst} (two processes on one
    // asset), the second rename would be one between two links to the same
    // file, which rename(2) makes a successful no-op: that {dst} would stay
    // behind for ever. So only an asset that no other name links to yet is
    // linked; one already placed somewhere is copied (a reflink where the
    // file system can).
    const bool placed_elsewhere = st.st_nlink > 1;
    const std::string link_name = placement_temporary_name(static_cast<unsigned long>(::getpid()), PlacementKind::link);
    parent.unlink(link_name);
    int e = EXDEV;
    if (!placed_elsewhere) {
        if (::linkat(own->get(), sha512_hex.c_str(), parent.fd(), link_name.c_str(), 0) == 0) {
            // The bytes linked are the staged file's: checked before they
            // reach {dst}. (Nothing else names it: it is changed only through
            // the staging directory, this user's own, under the asset's lock.)
            auto actual = sha512_of(staged.get(), shown, dst_shown, stop);
            if (!actual || *actual != sha512_hex) {
                parent.unlink(link_name);
                if (!actual) return actual.status();
                return discard_altered_asset(**staging_dir, sha512_hex, *actual, shown, dst_shown);
            }
            if (stop()) {
                parent.unlink(link_name);
                return stopped;
            }
            if (const int re = parent.rename(link_name, dst_name); re != 0) {
                parent.unlink(link_name);
                return Status(Errc::io, "cannot rename '" + parent.show(link_name).string() + "' to '" +
                                            parent.show(dst_name).string() + "': " + std::strerror(re));
            }
            parent.unlink(link_name);  // still there when {dst} already was this very file (the rename did nothing)
            return Status::success();
        }
        e = errno;
        if (e == ENOENT)  // removed since it was opened (gc, where locks do nothing): the caller fetches again
            return Status(Errc::not_found, "'" + shown + "' was removed before it could be placed");
    }
    if (e != EXDEV && e != EPERM && e != EMLINK && e != ENOTSUP && e != EOPNOTSUPP)
        return Status(Errc::io, "cannot link '" + shown + "' to '" + parent.show(link_name).string() + "': " +
                                    std::strerror(e));
    // No hard links here (or none wanted): a copy, renamed into place once complete.
    const std::string copy_name = placement_temporary_name(static_cast<unsigned long>(::getpid()), PlacementKind::copy);
    auto copied = copy_file_durably(staged.get(), shown, parent, copy_name, stop);
    if (!copied || *copied != sha512_hex) {
        parent.unlink(copy_name);
        if (!copied) return copied.status();
        return discard_altered_asset(**staging_dir, sha512_hex, *copied, shown, dst_shown);
    }
    if (stop()) {
        parent.unlink(copy_name);
        return stopped;
    }
    if (const int re = parent.rename(copy_name, dst_name); re != 0) {
        parent.unlink(copy_name);
        return Status(Errc::io, "cannot rename '" + parent.show(copy_name).string() + "' to '" +
                                    parent.show(dst_name).string() + "': " + std::strerror(re));
    }
    return Status::success();
}

}  // namespace blobfetch::host
#endif  // !_WIN32
