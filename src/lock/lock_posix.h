#pragma once
// Internal to src/lock (POSIX): the open file description locks and the
// holder text shared by the whole-directory lock (dir_lock_posix.cpp) and
// the blob locks (blob_lock_posix.cpp). The layout is in blob_lock.h,
// its constants in lock_layout.h.
#ifndef _WIN32
#include <cstdint>
#include <filesystem>
#include <string>

#include "base/status.h"
#include "io/file.h"

#include <fcntl.h>
#include <sys/types.h>

#include "lock/lock_layout.h"

#ifndef F_OFD_SETLK
#error "blobfetch's cache locks need open file description locks (fcntl F_OFD_SETLK: Linux 3.15 or later)"
#endif

namespace blobfetch {
class DirHandle;
}

namespace blobfetch::lockfile {

// fcntl(fd, cmd, {type, SEEK_SET, start, len}) retried on EINTR; for
// F_OFD_GETLK, `*out` receives the conflicting lock (l_type F_UNLCK: none).
// 0 or -1 with errno.
int ofd(int fd, int cmd, short type, off_t start, off_t len, struct flock *out = nullptr);

// The first line at `offset` (at most `width` bytes), trailing blanks dropped.
std::string read_line(int fd, off_t offset, std::size_t width);

// Whether the file system under `fd` (the lock file, open through `dir`)
// enforces open file description locks between two open files: tested once
// per file system and process. "" when it does, else why not. `holds_all`:
// `fd` holds the whole-directory lock already (which covers the test byte).
std::string self_test(const DirHandle &dir, int fd, bool holds_all = false);

// `<dir>/.download.lock`, opened (created 0666 when missing) through the
// directory handle, never following a link and never waiting (O_NONBLOCK: a
// FIFO there): writable when it can be, else read-only, else (another user
// made it unreadable, or something that is no regular file is at the name: a
// directory, a symbolic link, a FIFO, ...) no descriptor. `why_not` says why
// no lock can be shared through it, naming the path and what is there (""
// when one can); callers then work without the lock, in private files.
// Errors (Errc::io) name the file and say what to do: a permission problem
// of the directory, an I/O error. The file is made 0666 when this user owns
// it.
struct OpenedLockFile {
    UniqueFd fd;
    bool writable = false;
    std::string why_not;
};
Expected<OpenedLockFile> open_lock_file(const DirHandle &dir);

// Who holds the lock that conflicts at `conflict_start` (F_OFD_GETLK's
// l_start): a whole-directory holder writes line 0, a blob holder the slot
// of the key range it is in. Text for messages only, clean_holder()'s ("" when
// unreadable or not a holder line).
std::string holder_at(int fd, off_t conflict_start);

// `<path>` opened read-only for probing (no create, no link followed, no
// blocking on a FIFO): an empty descriptor when there is no such file; an
// error (Errc::io) names it, and what is there when it is no regular file.
Expected<UniqueFd> open_lock_file_to_probe(const std::filesystem::path &path);

// Whether errno after a failed F_OFD_SETLK means "this file system has no
// locks" (rather than contention or a real error).
bool no_locks_here(int e);

}  // namespace blobfetch::lockfile
#endif
