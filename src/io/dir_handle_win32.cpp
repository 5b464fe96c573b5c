// Windows directory handles (dir_handle.h, where what is weaker than on
// POSIX is said): a directory HANDLE kept open without FILE_SHARE_DELETE
// (which pins it and every directory above it), and each operation on the
// path of one component below it, never through a final reparse point.
#ifdef _WIN32
#include <algorithm>
#include <cerrno>
#include <ctime>
#include <cstring>
#include <vector>

#include "io/dir_handle.h"

#include "base/path_safety.h"
#include "io/win32.h"

namespace blobfetch {
namespace {

namespace fs = std::filesystem;

// One component: no separators, no stream (':').
bool plain_name(std::string_view name) {
    return !name.empty() && name.find_first_of(":\\/") == std::string_view::npos;
}

// The directory at `os_path`, opened without following a reparse point
// there when `no_follow` (the root itself is the user's and may be a link).
HANDLE open_directory(const std::wstring &os_path, bool no_follow) {
    return CreateFileW(os_path.c_str(), FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                       FILE_FLAG_BACKUP_SEMANTICS | (no_follow ? FILE_FLAG_OPEN_REPARSE_POINT : 0), nullptr);
}

Status link_refused(const fs::path &where) {
    return Status(Errc::unsafe_path, "'" + path_to_utf8(where) +
                                         "' is a symbolic link or junction inside the cache directory; blobfetch "
                                         "never follows links below the cache directory (they could lead "
                                         "anywhere): remove the link, or make the cache directory itself the link");
}

}  // namespace

DirHandle::DirHandle(UniqueFd fd, fs::path path) : m_fd(std::move(fd)), m_path(std::move(path)) {
    win32::FileId id;
    if (win32::file_id(win32::handle_of(m_fd.get()), id)) {
        m_dev = id.volume;
        m_ino = id.index;
    }
}

Expected<std::shared_ptr<DirHandle>> DirHandle::open_root(const fs::path &root, bool create) {
    const std::wstring os = win32::long_path(root);
    const std::string shown = path_to_utf8(root);
    if (create) {
        if (const DWORD e = win32::create_directories(os); e != 0)
            return Status(Errc::io, "cannot create directory '" + shown + "': " + win32::error_text(e));
    }
    HANDLE h = open_directory(os, /*no_follow=*/false);
    if (h == INVALID_HANDLE_VALUE) {
        const DWORD e = GetLastError();
        if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
            return Status(Errc::not_found, "the cache directory '" + shown + "' does not exist");
        return Status(Errc::io, "cannot open the cache directory '" + shown + "': " + win32::error_text(e) +
                                    "; check its permissions");
    }
    DWORD attributes = 0;
    win32::FileId id;
    if (!win32::file_id(h, id, &attributes) || !(attributes & FILE_ATTRIBUTE_DIRECTORY)) {
        CloseHandle(h);
        return Status(Errc::io, "cannot open the cache directory '" + shown + "': it is no directory");
    }
    UniqueFd fd(win32::descriptor_of(h, _O_RDONLY));
    if (!fd) return Status(Errc::io, "cannot open the cache directory '" + shown + "': too many open files");
    auto handle = std::shared_ptr<DirHandle>(new DirHandle(std::move(fd), root));
    handle->m_os_path = os;
    return handle;
}

Expected<std::shared_ptr<DirHandle>> DirHandle::open_beneath(const std::shared_ptr<DirHandle> &root_handle,
                                                             std::string_view relative, bool create, bool) {
    const DirHandle &root = *root_handle;
    const auto parts = path_components(relative);
    std::wstring os = root.m_os_path;
    fs::path walked = root.path();
    UniqueFd current;
    if (parts.empty()) {
        HANDLE h = open_directory(os, /*no_follow=*/false);
        if (h == INVALID_HANDLE_VALUE)
            return Status(Errc::io, "cannot open '" + path_to_utf8(walked) + "': " + win32::error_text(GetLastError()));
        current.reset(win32::descriptor_of(h, _O_RDONLY));
    }
    for (auto part : parts) {
        walked /= path_from_utf8(part);
        if (!plain_name(part))
            return Status(Errc::unsafe_path, "'" + path_to_utf8(walked) + "' is no name Windows can hold");
        os = win32::child_path(os, part);
        if (create && !CreateDirectoryW(os.c_str(), nullptr) && GetLastError() != ERROR_ALREADY_EXISTS)
            return Status(Errc::io, "cannot create directory '" + path_to_utf8(walked) + "': " +
                                        win32::error_text(GetLastError()));
        // (The previous component stays open, hence pinned, until this one is.)
        HANDLE h = open_directory(os, /*no_follow=*/true);
        if (h == INVALID_HANDLE_VALUE) {
            const DWORD e = GetLastError();
            if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
                return Status(Errc::not_found, "'" + path_to_utf8(walked) + "' does not exist");
            return Status(Errc::io, "cannot open directory '" + path_to_utf8(walked) + "': " + win32::error_text(e));
        }
        DWORD attributes = 0;
        win32::FileId id;
        const bool known = win32::file_id(h, id, &attributes);
        if (known && (attributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
            CloseHandle(h);
            return link_refused(walked);
        }
        if (!known || !(attributes & FILE_ATTRIBUTE_DIRECTORY)) {
            CloseHandle(h);
            return Status(Errc::unsafe_path, "'" + path_to_utf8(walked) +
                                                 "' is in the way of a directory of the cache (it is no "
                                                 "directory): remove it and run again");
        }
        current.reset(win32::descriptor_of(h, _O_RDONLY));
        if (!current) return Status(Errc::io, "cannot open '" + path_to_utf8(walked) + "': too many open files");
    }
    auto handle = std::shared_ptr<DirHandle>(new DirHandle(std::move(current), walked));
    handle->m_os_path = os;
    return handle;
}

Status DirHandle::sync_created() const { return Status::success(); }

UniqueFd DirHandle::open(std::string_view name, int flags, mode_t) const {
    if (!plain_name(name)) {
        errno = EINVAL;
        return UniqueFd();
    }
    const int access = flags & (O_RDONLY | O_WRONLY | O_RDWR);
    const DWORD desired = access == O_RDWR ? GENERIC_READ | GENERIC_WRITE
                          : access == O_WRONLY ? GENERIC_WRITE
                                               : GENERIC_READ;
    DWORD disposition = OPEN_EXISTING;
    if ((flags & O_CREAT) && (flags & O_EXCL)) disposition = CREATE_NEW;
    else if ((flags & O_CREAT) && (flags & O_TRUNC)) disposition = CREATE_ALWAYS;
    else if (flags & O_CREAT) disposition = OPEN_ALWAYS;
    else if (flags & O_TRUNC) disposition = TRUNCATE_EXISTING;
    const std::wstring os = win32::child_path(m_os_path, name);
    // Shared for reading, writing and deleting: as on POSIX, others may open,
    // rename and remove a file while it is open here.
    HANDLE h = CreateFileW(os.c_str(), desired, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           disposition, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        const DWORD e = GetLastError();
        const DWORD a = e == ERROR_ACCESS_DENIED ? GetFileAttributesW(os.c_str()) : INVALID_FILE_ATTRIBUTES;
        errno = a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) ? EISDIR : win32::errno_of(e);
        return UniqueFd();
    }
    DWORD attributes = 0;
    win32::FileId id;
    if (win32::file_id(h, id, &attributes) && (attributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
        CloseHandle(h);
        errno = ELOOP;  // as O_NOFOLLOW: a final link is never followed
        return UniqueFd();
    }
    return UniqueFd(win32::descriptor_of(h, access));
}

namespace {

// FILETIME / LARGE_INTEGER (100 ns since 1601) as time_t.
std::time_t unix_time(std::uint64_t ticks) {
    return static_cast<std::time_t>((static_cast<std::int64_t>(ticks) - 116444736000000000LL) / 10000000LL);
}
std::uint64_t ticks_of(const FILETIME &t) {
    return (static_cast<std::uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime;
}

}  // namespace

// The file opened for its attributes only (which no sharing mode excludes),
// never through a final reparse point: size, mode, times and the link count
// (GetFileInformationByHandle; gc's rule for x-script's staged assets needs
// st_nlink). st_ctime is the change time (FileBasicInfo), as on POSIX.
int DirHandle::stat(std::string_view name, struct stat &st) const {
    if (!plain_name(name)) return EINVAL;
    const std::wstring os = win32::child_path(m_os_path, name);
    HANDLE h = CreateFileW(os.c_str(), FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) return win32::errno_of(GetLastError());
    BY_HANDLE_FILE_INFORMATION info{};
    const bool known = GetFileInformationByHandle(h, &info) != 0;
    const DWORD error = known ? 0 : GetLastError();
    FILE_BASIC_INFO basic{};
    const bool changed = known && GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic) != 0;
    CloseHandle(h);
    if (!known) return win32::errno_of(error);
    std::memset(&st, 0, sizeof st);
    // A reparse point (link, junction) is neither a file nor a directory here.
    if (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) st.st_mode = 0;
    else if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) st.st_mode = S_IFDIR | 0777;
    else st.st_mode = S_IFREG | ((info.dwFileAttributes & FILE_ATTRIBUTE_READONLY) ? 0444 : 0666);
    st.st_size = static_cast<decltype(st.st_size)>((static_cast<std::uint64_t>(info.nFileSizeHigh) << 32) |
                                                   info.nFileSizeLow);
    st.st_nlink = static_cast<decltype(st.st_nlink)>(std::min<DWORD>(info.nNumberOfLinks, 0x7fff));
    st.st_dev = static_cast<decltype(st.st_dev)>(m_dev);
    st.st_mtime = unix_time(ticks_of(info.ftLastWriteTime));
    st.st_atime = unix_time(ticks_of(info.ftLastAccessTime));
    st.st_ctime = changed ? unix_time(static_cast<std::uint64_t>(basic.ChangeTime.QuadPart)) : st.st_mtime;
    return 0;
}

int DirHandle::rename(std::string_view from, std::string_view to) const {
    if (!plain_name(from) || !plain_name(to)) return EINVAL;
    const DWORD e = win32::rename_replacing(win32::child_path(m_os_path, from), win32::child_path(m_os_path, to));
    return e == 0 ? 0 : win32::errno_of(e);
}

int DirHandle::unlink(std::string_view name) const {
    if (!plain_name(name)) return EINVAL;
    const DWORD e = win32::remove_file(win32::child_path(m_os_path, name));
    return e == 0 ? 0 : win32::errno_of(e);
}

Status DirHandle::remove(std::string_view name) const {
    const int e = unlink(name);
    if (e == 0 || e == ENOENT) return Status::success();
    return Status(Errc::io, "cannot remove '" + path_to_utf8(show(name)) + "': " + std::strerror(e));
}

// (NTFS journals metadata and renames are write-through: see dir_handle.h.)
Status DirHandle::sync() const { return Status::success(); }

bool DirHandle::still_at(const DirHandle &root, std::string_view relative) const {
    std::wstring os = root.m_os_path;
    for (auto part : path_components(relative)) {
        if (!plain_name(part)) return false;
        os = win32::child_path(os, part);
    }
    HANDLE h = open_directory(os, /*no_follow=*/true);
    if (h == INVALID_HANDLE_VALUE) return false;
    DWORD attributes = 0;
    win32::FileId id;
    const bool same = win32::file_id(h, id, &attributes) && !(attributes & FILE_ATTRIBUTE_REPARSE_POINT) &&
                      (attributes & FILE_ATTRIBUTE_DIRECTORY) && id.volume == m_dev && id.index == m_ino;
    CloseHandle(h);
    return same;
}

}  // namespace blobfetch
#endif  // _WIN32
