#pragma once
// Internal to src/lock (Windows): LockFileEx byte ranges at the offsets of
// blob_lock.h's layout (lock_layout.h), shared by the whole-directory lock
// (dir_lock_win32.cpp) and the blob locks (blob_lock_win32.cpp).
//
// Windows locks differ from Linux's open file description locks in two ways
// that shape this:
// - they are mandatory: nobody else may read or write the bytes a lock
//   covers. So the whole-directory lock is not "every byte" here but
//   [kDirMarker, kKeyEnd): every blob's byte, the self-test byte and one
//   marker byte only it takes, leaving the holder lines readable;
// - nothing tells who holds a range (no F_GETLK): an attempt that fails
//   learns whose it is by trying the marker byte (free: a blob's holder, whose
//   slot names it; taken: the directory's holder, line 0), and a busy
//   directory's blob holder is found by trying the keys its slots name.
// Like Linux's, they belong to one open handle (two handles conflict, even
// in one process) and Windows releases them when the handle closes or its
// process dies: never stale.
#ifdef _WIN32
#include <windows.h>

#include <cstdint>
#include <string>

#include "lock/lock_layout.h"

namespace blobfetch {
class DirHandle;
}

namespace blobfetch::lockfile {

inline constexpr std::int64_t kDirMarker = kKeyBase - 2;                        // only the directory lock takes it
inline constexpr std::int64_t kKeyEnd = kKeyBase + static_cast<std::int64_t>(kKeyMask) + 1;

// LockFileEx(exclusive, fail at once) of [start, start + len): true when
// taken. `*error` (when given): 0 for contention, else the Windows error.
bool try_range(HANDLE h, std::int64_t start, std::int64_t len, DWORD *error = nullptr);
void release_range(HANDLE h, std::int64_t start, std::int64_t len);
// Whether another handle holds any byte of [start, start + len) now: taken
// and let go at once (so a concurrent attempt may, for that instant, see it
// busy: for diagnosis and read-only commands only).
bool held_by_other(HANDLE h, std::int64_t start, std::int64_t len);

// The first line at `offset` (at most `width` bytes), trailing blanks dropped.
std::string read_line(int fd, std::int64_t offset, std::size_t width);

// Who holds blob key `key`, when an attempt at it failed.
std::string blob_holder(int fd, std::uint64_t key);
// Who holds some lock in the file, when the directory lock could not be
// taken: line 0 when the directory's lock is held, else the first blob
// holder found through the slots; "" when unknown. `held` (when given): set
// when anyone was found.
std::string any_holder(int fd, bool *held = nullptr);

// Whether a second handle on the lock file is refused a byte `fd` holds:
// tested once per volume and process. "" when locks are enforced, else why
// not. `holds_test_byte`: `fd` holds the self-test byte already.
std::string self_test(const DirHandle &dir, int fd, bool holds_test_byte);

}  // namespace blobfetch::lockfile
#endif  // _WIN32
