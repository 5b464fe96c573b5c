#pragma once
// Internal to src/lock (POSIX): the open file description locks and the
// holder text shared by the whole-directory lock (dir_lock_posix.cpp) and
// the blob locks (blob_lock_posix.cpp). The layout is in blob_lock.h.
#ifndef _WIN32
#include <cstdint>
#include <string>

#include "base/status.h"
#include "io/file.h"

#include <fcntl.h>
#include <sys/types.h>

#ifndef F_OFD_SETLK
#error "blobfetch's cache locks need open file description locks (fcntl F_OFD_SETLK: Linux 3.15 or later)"
#endif

namespace blobfetch {
class DirHandle;
}

namespace blobfetch::lockfile {

inline constexpr off_t kLineSize = 64;          // the whole-directory holder line
inline constexpr off_t kSlotBase = 64;          // holder slot s at kSlotBase + s * kSlotSize
inline constexpr off_t kSlotSize = 128;
inline constexpr std::uint64_t kSlots = 4096;
inline constexpr off_t kKeyBase = 1 << 20;      // the lock of key k is byte kKeyBase + k
inline constexpr off_t kSelfTestByte = kKeyBase - 1;
inline constexpr std::uint64_t kKeyMask = (std::uint64_t{1} << 61) - 1;

// fcntl(fd, cmd, {type, SEEK_SET, start, len}) retried on EINTR; for
// F_OFD_GETLK, `*out` receives the conflicting lock (l_type F_UNLCK: none).
// 0 or -1 with errno.
int ofd(int fd, int cmd, short type, off_t start, off_t len, struct flock *out = nullptr);

// `PID:<pid>,Time:<now>` + `extra`, padded with spaces to `width` - 1 bytes
// and a '\n' (cut to fit).
std::string holder_text(const std::string &extra, std::size_t width);
// The first line at `offset` (at most `width` bytes), trailing blanks dropped.
std::string read_line(int fd, off_t offset, std::size_t width);

// Whether the file system under `fd` (the lock file, open through `dir`)
// enforces open file description locks between two open files: tested once
// per file system and process. "" when it does, else why not. `holds_all`:
// `fd` holds the whole-directory lock already (which covers the test byte).
std::string self_test(const DirHandle &dir, int fd, bool holds_all = false);

// `<dir>/.download.lock`, opened (created 0666 when missing) through the
// directory handle: writable when it can be, else read-only, else (another
// user made it unreadable) no descriptor. `why_not` says why no lock can be
// shared through it ("" when one can). Errors (Errc::io) name the file and
// say what to do: a symbolic link or something else than a file in its
// place, a permission problem. The file is made 0666 when this user owns it.
struct OpenedLockFile {
    UniqueFd fd;
    bool writable = false;
    std::string why_not;
};
Expected<OpenedLockFile> open_lock_file(const DirHandle &dir);

// Whether errno after a failed F_OFD_SETLK means "this file system has no
// locks" (rather than contention or a real error).
bool no_locks_here(int e);

}  // namespace blobfetch::lockfile
#endif
