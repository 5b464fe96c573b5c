// POSIX blob locks (the layout and the rules are in blob_lock.h).
#ifndef _WIN32
#include "lock/blob_lock.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dir_handle.h"
#include "lock/dir_lock.h"
#include "lock/lock_posix.h"

namespace blobfetch {

using namespace lockfile;

namespace {

off_t key_offset(std::uint64_t key) { return kKeyBase + static_cast<off_t>(key); }
off_t slot_offset(std::uint64_t key) { return kSlotBase + static_cast<off_t>(key % kSlots) * kSlotSize; }

// Who holds key `key`, given the start of the conflicting lock: a
// whole-directory holder writes line 0, a blob holder its slot (which names
// the key; a slot shared with another key that was written last says
// nothing about this one).
std::string holder_of(int fd, std::uint64_t key, off_t conflict_start) {
    if (conflict_start < kKeyBase) return holder_at(fd, conflict_start);
    return slot_holder(read_line(fd, slot_offset(key), kSlotSize), key);
}

// The ranges [begin, end) (end -1: unbounded) that other open files hold in
// [a, b), found by splitting around each conflict F_OFD_GETLK reports (the
// kernel reports any one of them, not the lowest). False when `budget` calls
// did not suffice or a call failed: then nothing is known.
struct Range {
    off_t begin, end;
};
bool scan_held(int fd, off_t a, off_t b, std::vector<Range> &out, std::size_t &budget) {
    if (b >= 0 && a >= b) return true;
    if (budget == 0) return false;
    --budget;
    struct flock seen {};
    if (ofd(fd, F_OFD_GETLK, F_WRLCK, a, b < 0 ? 0 : b - a, &seen) != 0) return false;
    if (seen.l_type == F_UNLCK) return true;
    const off_t s = std::max<off_t>(seen.l_start, a);
    off_t e = seen.l_len == 0 ? -1 : seen.l_start + seen.l_len;
    if (b >= 0 && (e < 0 || e > b)) e = b;
    out.push_back({s, e});
    if (!scan_held(fd, a, s, out, budget)) return false;
    return e < 0 || scan_held(fd, e, b, out, budget);
}

const Range *covering(const std::vector<Range> &held, off_t at) {
    for (const Range &r : held)
        if (r.begin <= at && (r.end < 0 || at < r.end)) return &r;
    return nullptr;
}

// Takes `key` through `file` (its mutex held); false when another open file
// holds it (`*conflict_start`: where that lock begins) or on an error.
bool take(LockFile &file, std::uint64_t key, off_t *conflict_start) {
    auto &held = file.held();
    const off_t at = key_offset(key);
    if (ofd(file.fd(), F_OFD_SETLK, F_WRLCK, at, 1) != 0) {
        struct flock seen {};
        *conflict_start = ofd(file.fd(), F_OFD_GETLK, F_WRLCK, at, 1, &seen) == 0 && seen.l_type != F_UNLCK
                              ? seen.l_start
                              : at;
        return false;
    }
    auto it = std::find_if(held.begin(), held.end(), [&](const auto &p) { return p.first == key; });
    if (it == held.end()) held.emplace_back(key, 1);
    else ++it->second;
    return true;
}

// Lets go of one blob's hold on `key` (its mutex held).
void give_back(LockFile &file, std::uint64_t key) {
    auto &held = file.held();
    auto it = std::find_if(held.begin(), held.end(), [&](const auto &p) { return p.first == key; });
    if (it == held.end()) return;
    if (--it->second > 0) return;
    held.erase(it);
    (void)ofd(file.fd(), F_OFD_SETLK, F_UNLCK, key_offset(key), 1);
}

// One attempt at `names` through `file`; false when the lock file is not
// the one at its name any more (nothing is then held).
bool attempt_once(const std::shared_ptr<LockFile> &self, const DirHandle &dir, const std::vector<std::string> &names,
                  const std::vector<std::uint64_t> &keys, std::vector<BlobAttempt> &out) {
    LockFile &file = *self;
    std::lock_guard guard(file.mutex());
    // Which ranges others hold, when that is cheaper than trying each.
    std::vector<Range> held;
    std::size_t budget = names.size();
    const bool scanned = names.size() > 2 && scan_held(file.fd(), 0, -1, held, budget);
    std::vector<std::size_t> taken;
    for (std::size_t i = 0; i < names.size(); ++i) {
        off_t conflict = 0;
        if (scanned) {
            if (const Range *r = covering(held, key_offset(keys[i]))) {
                out[i].holder = holder_of(file.fd(), keys[i], r->begin);
                continue;
            }
        }
        if (take(file, keys[i], &conflict)) {
            taken.push_back(i);
        } else {
            out[i].holder = holder_of(file.fd(), keys[i], conflict);
        }
    }
    if (!taken.empty()) {
        // The name must still be the inode we locked: a lock on a file
        // that gc removed (or someone replaced) in between protects nothing.
        struct stat locked {}, current {};
        if (::fstat(file.fd(), &locked) != 0 || dir.stat(kLockFileName, current) != 0 ||
            current.st_dev != locked.st_dev || current.st_ino != locked.st_ino) {
            for (const std::size_t i : taken) give_back(file, keys[i]);
            return false;
        }
        for (const std::size_t i : taken) {
            const std::string line = holder_text(slot_suffix(keys[i], names[i]), kSlotSize);
            (void)write_all_at(file.fd(), line.data(), line.size(), slot_offset(keys[i]), file.path().string());
            out[i].lock = std::make_unique<BlobLock>(self, keys[i]);
        }
    }
    return true;
}

}  // namespace

LockFile::LockFile(UniqueFd fd, std::filesystem::path path, bool writable)
    : m_fd(std::move(fd)), m_path(std::move(path)), m_writable(writable) {}

BlobLock::~BlobLock() {
    if (!m_file->enforced()) return;
    std::lock_guard lock(m_file->mutex());
    give_back(*m_file, m_key);
}

Expected<std::shared_ptr<LockFile>> LockFile::open(const DirHandle &dir) {
    auto opened = open_lock_file(dir);
    if (!opened) return opened.status();
    auto file = std::make_shared<LockFile>(std::move(opened->fd), dir.show(kLockFileName), opened->writable);
    if (!opened->why_not.empty()) file->set_not_enforced(std::move(opened->why_not));
    else if (std::string why = self_test(dir, file->fd()); !why.empty()) file->set_not_enforced(std::move(why));
    return file;
}

Expected<std::vector<BlobAttempt>> try_lock_blobs(std::shared_ptr<LockFile> &file, const DirHandle &dir,
                                                  const std::vector<std::string> &names) {
    for (int reopen = 0; reopen < 8; ++reopen) {
        if (!file) {
            auto opened = LockFile::open(dir);
            if (!opened) return opened.status();
            file = std::move(*opened);
        }
        std::vector<BlobAttempt> out(names.size());
        if (!file->enforced()) {
            for (std::size_t i = 0; i < names.size(); ++i)
                out[i].lock = std::make_unique<BlobLock>(file, blob_lock_key(names[i]));
            return out;
        }
        std::vector<std::uint64_t> keys;
        keys.reserve(names.size());
        for (const auto &n : names) keys.push_back(blob_lock_key(n));
        if (attempt_once(file, dir, names, keys, out)) return out;
        file.reset();  // removed or replaced meanwhile: open the file that is there now
    }
    return Status(Errc::io, "the lock file '" + dir.show(kLockFileName).string() +
                                "' keeps being replaced; is another tool removing it?");
}

bool lock_file_still_named(const LockFile &file, const DirHandle &dir) {
    struct stat locked {}, current {};
    return ::fstat(file.fd(), &locked) == 0 && dir.stat(kLockFileName, current) == 0 &&
           current.st_dev == locked.st_dev && current.st_ino == locked.st_ino;
}

Expected<BlobProbe> probe_blob_lock(const std::filesystem::path &dir, const std::string &name) {
    auto opened = open_lock_file_to_probe(dir / kLockFileName);
    if (!opened) return opened.status();
    if (!*opened) return BlobProbe{};
    const UniqueFd fd = std::move(*opened);
    const std::uint64_t key = blob_lock_key(name);
    struct flock seen {};
    if (ofd(fd.get(), F_OFD_GETLK, F_WRLCK, key_offset(key), 1, &seen) != 0 || seen.l_type == F_UNLCK)
        return BlobProbe{};
    return BlobProbe{true, holder_of(fd.get(), key, seen.l_start)};
}

}  // namespace blobfetch
#endif  // !_WIN32
