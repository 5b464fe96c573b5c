// Windows blob locks: blob_lock.h's layout and rules with LockFileEx (what
// differs from the POSIX locks is in lock_win32.h).
#ifdef _WIN32
#include "lock/blob_lock.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/dir_handle.h"
#include "io/win32.h"
#include "lock/dir_lock.h"
#include "lock/lock_win32.h"

namespace blobfetch {

using namespace lockfile;

namespace {

std::int64_t key_offset(std::uint64_t key) { return kKeyBase + static_cast<std::int64_t>(key); }
std::int64_t slot_offset(std::uint64_t key) { return kSlotBase + static_cast<std::int64_t>(key % kSlots) * kSlotSize; }

HANDLE handle(const LockFile &file) { return win32::handle_of(file.fd()); }

// Takes `key` through `file` (its mutex held). A key this handle holds for
// another blob already is counted, not locked again (Windows would refuse
// an overlapping lock on the same handle).
bool take(LockFile &file, std::uint64_t key) {
    auto &held = file.held();
    auto it = std::find_if(held.begin(), held.end(), [&](const auto &p) { return p.first == key; });
    if (it != held.end()) {
        ++it->second;
        return true;
    }
    if (!try_range(handle(file), key_offset(key), 1)) return false;
    held.emplace_back(key, 1);
    return true;
}

void give_back(LockFile &file, std::uint64_t key) {
    auto &held = file.held();
    auto it = std::find_if(held.begin(), held.end(), [&](const auto &p) { return p.first == key; });
    if (it == held.end()) return;
    if (--it->second > 0) return;
    held.erase(it);
    release_range(handle(file), key_offset(key), 1);
}

bool attempt_once(const std::shared_ptr<LockFile> &self, const DirHandle &dir, const std::vector<std::string> &names,
                  std::vector<BlobAttempt> &out) {
    LockFile &file = *self;
    std::lock_guard guard(file.mutex());
    std::vector<std::size_t> taken;
    std::vector<std::uint64_t> keys;
    for (std::size_t i = 0; i < names.size(); ++i) {
        keys.push_back(blob_lock_key(names[i]));
        if (take(file, keys[i])) taken.push_back(i);
        else out[i].holder = blob_holder(file.fd(), keys[i]);
    }
    if (!taken.empty()) {
        if (!lock_file_still_named(file, dir)) {
            for (const std::size_t i : taken) give_back(file, keys[i]);
            return false;
        }
        for (const std::size_t i : taken) {
            const std::string line = holder_text(slot_suffix(keys[i], names[i]), static_cast<std::size_t>(kSlotSize));
            (void)write_all_at(file.fd(), line.data(), line.size(), slot_offset(keys[i]), path_to_utf8(file.path()));
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

bool lock_file_still_named(const LockFile &file, const DirHandle &dir) {
    win32::FileId locked, current;
    if (!win32::file_id(handle(file), locked)) return false;
    UniqueFd now = dir.open(kLockFileName, O_RDONLY);
    return now && win32::file_id(win32::handle_of(now.get()), current) && current == locked;
}

Expected<std::shared_ptr<LockFile>> LockFile::open(const DirHandle &dir) {
    const std::filesystem::path path = dir.show(kLockFileName);
    UniqueFd fd = dir.open(kLockFileName, O_CREAT | O_RDWR, 0666);
    if (!fd) {
        const int e = errno;
        const std::string hint = e == ELOOP ? "; it is a symbolic link, which blobfetch never follows; remove it"
                                 : e == EISDIR ? "; it is a directory: remove it"
                                               : "; check the permissions of the cache directory";
        return Status(Errc::io, "cannot open the lock file '" + path_to_utf8(path) + "': " + std::strerror(e) + hint);
    }
    auto file = std::make_shared<LockFile>(std::move(fd), path, true);
    if (std::string why = self_test(dir, file->fd(), /*holds_test_byte=*/false); !why.empty())
        file->set_not_enforced(std::move(why));
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
        if (attempt_once(file, dir, names, out)) return out;
        file.reset();  // removed or replaced meanwhile: open the file that is there now
    }
    return Status(Errc::io, "the lock file '" + path_to_utf8(dir.show(kLockFileName)) +
                                "' keeps being replaced; is another tool removing it?");
}

Expected<BlobProbe> probe_blob_lock(const std::filesystem::path &dir, const std::string &name) {
    auto handle_dir = DirHandle::open_root(dir, /*create=*/false);
    if (!handle_dir) return handle_dir.status().code() == Errc::not_found ? Expected<BlobProbe>(BlobProbe{})
                                                                           : Expected<BlobProbe>(handle_dir.status());
    UniqueFd fd = (*handle_dir)->open(kLockFileName, O_RDONLY);
    if (!fd) {
        if (errno == ENOENT) return BlobProbe{};
        return Status(Errc::io, "cannot open the lock file '" + path_to_utf8(dir / kLockFileName) + "': " +
                                    std::strerror(errno));
    }
    const std::uint64_t key = blob_lock_key(name);
    if (!held_by_other(win32::handle_of(fd.get()), key_offset(key), 1)) return BlobProbe{};
    return BlobProbe{true, blob_holder(fd.get(), key)};
}

}  // namespace blobfetch
#endif  // _WIN32
