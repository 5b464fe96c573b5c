// Windows byte-range locks (lock_win32.h).
#ifdef _WIN32
#include "lock/lock_win32.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "io/dir_handle.h"
#include "io/file.h"
#include "io/win32.h"
#include "lock/dir_lock.h"

namespace blobfetch::lockfile {

bool try_range(HANDLE h, std::int64_t start, std::int64_t len, DWORD *error) {
    OVERLAPPED ov = win32::overlapped_at(start);
    const auto n = static_cast<std::uint64_t>(len);
    if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, static_cast<DWORD>(n & 0xFFFFFFFFu),
                   static_cast<DWORD>(n >> 32), &ov)) {
        if (error) *error = 0;
        return true;
    }
    const DWORD e = GetLastError();
    if (error) *error = e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING ? 0 : e;
    return false;
}

void release_range(HANDLE h, std::int64_t start, std::int64_t len) {
    OVERLAPPED ov = win32::overlapped_at(start);
    const auto n = static_cast<std::uint64_t>(len);
    UnlockFileEx(h, 0, static_cast<DWORD>(n & 0xFFFFFFFFu), static_cast<DWORD>(n >> 32), &ov);
}

bool held_by_other(HANDLE h, std::int64_t start, std::int64_t len) {
    DWORD e = 0;
    if (try_range(h, start, len, &e)) {
        release_range(h, start, len);
        return false;
    }
    return e == 0;
}

std::string read_line(int fd, std::int64_t offset, std::size_t width) {
    std::string buf(width, '\0');
    auto n = read_at_most(fd, buf.data(), width, offset, "lock file");
    if (!n || *n == 0) return {};
    buf.resize(*n);
    return first_line(std::move(buf));
}

std::string blob_holder(int fd, std::uint64_t key) {
    if (held_by_other(win32::handle_of(fd), kDirMarker, 1)) return clean_holder(read_line(fd, 0, kLineSize));
    return slot_holder(read_line(fd, kSlotBase + static_cast<std::int64_t>(key % kSlots) * kSlotSize, kSlotSize),
                       key);
}

std::string any_holder(int fd, bool *held) {
    const HANDLE h = win32::handle_of(fd);
    if (held) *held = false;
    if (held_by_other(h, kDirMarker, 1)) {
        if (held) *held = true;
        return clean_holder(read_line(fd, 0, kLineSize));
    }
    // The slots hold the keys of recent holders: try those (sparse: the file
    // is mostly unwritten slots, read as zeros).
    const std::size_t region = static_cast<std::size_t>(kSlots) * static_cast<std::size_t>(kSlotSize);
    std::string slots(region, '\0');
    auto n = read_at_most(fd, slots.data(), region, kSlotBase, "lock file");
    if (!n) return {};
    int tried = 0;
    for (std::size_t s = 0; s + kSlotSize <= *n && tried < 256; s += static_cast<std::size_t>(kSlotSize)) {
        const std::string line = first_line(slots.substr(s, static_cast<std::size_t>(kSlotSize)));
        const auto k = line.find(",Key:");
        if (k == std::string::npos || line.size() < k + 5 + 16) continue;
        ++tried;
        const std::uint64_t key = std::strtoull(line.substr(k + 5, 16).c_str(), nullptr, 16) & kKeyMask;
        if (held_by_other(h, kKeyBase + static_cast<std::int64_t>(key), 1)) {
            if (held) *held = true;
            return slot_holder(line, key);
        }
    }
    return {};
}

std::string self_test(const DirHandle &dir, int fd, bool holds_test_byte) {
    const HANDLE h = win32::handle_of(fd);
    win32::FileId id;
    if (!win32::file_id(h, id)) return "cannot inspect the lock file";
    static std::mutex mutex;
    static std::map<std::uint64_t, std::string> known;  // a property of the volume
    {
        std::lock_guard lock(mutex);
        if (auto it = known.find(id.volume); it != known.end()) return it->second;
    }
    std::string why;
    DWORD e = 0;
    if (!holds_test_byte && !try_range(h, kSelfTestByte, 1, &e)) {
        // Busy: another handle holds the byte, so locks do exclude.
        if (e != 0) why = "file locks are not supported there (a network file system?)";
    } else {
        UniqueFd probe = dir.open(kLockFileName, O_RDONLY);
        if (!probe || try_range(win32::handle_of(probe.get()), kSelfTestByte, 1, &e) || e != 0)
            why = "file locks are not enforced there (a network file system?)";
        if (!holds_test_byte) release_range(h, kSelfTestByte, 1);
    }
    std::lock_guard lock(mutex);
    known.emplace(id.volume, why);
    return why;
}

}  // namespace blobfetch::lockfile
#endif  // _WIN32
