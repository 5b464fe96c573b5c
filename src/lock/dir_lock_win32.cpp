// Windows whole-directory lock: the lock file opened through the directory's
// handle (shared, like every file: gc may remove it) and LockFileEx on
// [kDirMarker, kKeyEnd), which excludes every blob lock (lock_win32.h says
// why that and not every byte), then a check that the locked file is still
// the one at the name, then the self-test. The contract is dir_lock.h's.
#ifdef _WIN32
#include <cerrno>
#include <cstring>

#include "io/dir_handle.h"
#include "io/file.h"
#include "io/win32.h"
#include "lock/dir_lock.h"
#include "lock/lock_win32.h"

namespace blobfetch {

struct DirLock::Impl {
    UniqueFd fd;  // closing it releases the lock
};

DirLock::DirLock(std::unique_ptr<Impl> impl, std::filesystem::path path, bool enforced, std::string why)
    : m_impl(std::move(impl)), m_path(std::move(path)), m_enforced(enforced), m_why(std::move(why)) {
    if (!m_enforced && m_why.empty()) m_why = "file locks are not enforced there (a network file system?)";
}

DirLock::~DirLock() = default;

using namespace lockfile;

Expected<TryLock> try_lock_directory(const DirHandle &dir) {
    const std::filesystem::path path = dir.show(kLockFileName);
    const std::string shown = path_to_utf8(path);
    for (int attempt = 0; attempt < 8; ++attempt) {
        UniqueFd fd = dir.open(kLockFileName, O_CREAT | O_RDWR, 0666);
        if (!fd) {
            const int e = errno;
            const std::string hint = e == ELOOP    ? "; it is a symbolic link, which blobfetch never follows; remove it"
                                     : e == EISDIR ? "; it is a directory: remove it"
                                                   : "; check the permissions of the cache directory";
            return Status(Errc::io, "cannot open the lock file '" + shown + "': " + std::strerror(e) + hint);
        }
        const HANDLE h = win32::handle_of(fd.get());
        bool enforced = true;
        std::string why;
        DWORD error = 0;
        if (!try_range(h, kDirMarker, kKeyEnd - kDirMarker, &error)) {
            if (error == 0) return TryLock{nullptr, any_holder(fd.get())};  // busy: say whose
            if (error != ERROR_NOT_SUPPORTED && error != ERROR_INVALID_FUNCTION)
                return Status(Errc::io, "cannot lock '" + shown + "': " + win32::error_text(error));
            enforced = false;
            why = "file locks are not supported there (a network file system?)";
        }
        win32::FileId locked, current;
        UniqueFd now = dir.open(kLockFileName, O_RDONLY);
        if (!win32::file_id(h, locked) || !now || !win32::file_id(win32::handle_of(now.get()), current) ||
            current != locked)
            continue;  // removed or replaced in between: try again with the file that is there now
        now.reset();
        if (enforced) {
            why = self_test(dir, fd.get(), /*holds_test_byte=*/true);
            enforced = why.empty();
        }
        const std::string line = holder_text("", static_cast<std::size_t>(kLineSize));
        (void)write_all_at(fd.get(), line.data(), line.size(), 0, shown);  // for diagnosis only
        auto impl = std::make_unique<DirLock::Impl>();
        impl->fd = std::move(fd);
        return TryLock{std::make_unique<DirLock>(std::move(impl), path, enforced, why), {}};
    }
    return Status(Errc::io, "the lock file '" + shown + "' keeps being replaced; is another tool removing it?");
}

Expected<TryLock> try_lock_directory(const std::filesystem::path &dir) {
    auto handle = DirHandle::open_root(dir, /*create=*/true);
    if (!handle) return handle.status();
    return try_lock_directory(**handle);
}

Expected<LockProbe> probe_directory_lock(const std::filesystem::path &dir) {
    auto handle = DirHandle::open_root(dir, /*create=*/false);
    if (!handle) return handle.status().code() == Errc::not_found ? Expected<LockProbe>(LockProbe{})
                                                                   : Expected<LockProbe>(handle.status());
    UniqueFd fd = (*handle)->open(kLockFileName, O_RDONLY);
    if (!fd) {
        if (errno == ENOENT) return LockProbe{};
        return Status(Errc::io, "cannot open the lock file '" + path_to_utf8(dir / kLockFileName) + "': " +
                                    std::strerror(errno));
    }
    LockProbe probe;
    probe.holder = any_holder(fd.get(), &probe.held);
    return probe;
}

}  // namespace blobfetch
#endif  // _WIN32
