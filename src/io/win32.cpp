// The Windows OS boundary (win32.h).
#ifdef _WIN32
#include "io/win32.h"

#include <fcntl.h>
#include <io.h>

#include <cerrno>
#include <thread>
#include <vector>

namespace blobfetch::win32 {

std::wstring widen(std::string_view utf8) {
    if (utf8.empty()) return {};
    const int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
    std::wstring out(static_cast<std::size_t>(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
    return out;
}

std::string narrow(std::wstring_view utf16) {
    if (utf16.empty()) return {};
    const int n = WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), nullptr, 0, nullptr,
                                      nullptr);
    std::string out(static_cast<std::size_t>(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), out.data(), n, nullptr, nullptr);
    return out;
}

std::wstring long_path(const std::filesystem::path &path) {
    const std::wstring &in = path.native();
    if (in.rfind(L"\\\\?\\", 0) == 0) return in;
    // GetFullPathNameW makes it absolute, turns '/' into '\' and resolves
    // "." and ".."; it has no MAX_PATH limit.
    DWORD n = GetFullPathNameW(in.c_str(), 0, nullptr, nullptr);
    std::wstring full;
    if (n == 0) {
        full = in;
    } else {
        full.resize(n);
        n = GetFullPathNameW(in.c_str(), n, full.data(), nullptr);
        full.resize(n);
    }
    while (full.size() > 3 && full.back() == L'\\') full.pop_back();
    if (full.rfind(L"\\\\", 0) == 0) return L"\\\\?\\UNC\\" + full.substr(2);
    return L"\\\\?\\" + full;
}

std::wstring child_path(const std::wstring &dir, std::string_view name) {
    std::wstring out = dir;
    if (!out.empty() && out.back() != L'\\') out += L'\\';
    return out + widen(name);
}

std::string error_text(DWORD code) {
    wchar_t *buf = nullptr;
    FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                   nullptr, code, 0, reinterpret_cast<wchar_t *>(&buf), 0, nullptr);
    std::string s = buf ? narrow(buf) : std::string();
    if (buf) LocalFree(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.' || s.back() == ' ')) s.pop_back();
    if (s.empty()) s = "Windows error";
    return s + " (error " + std::to_string(code) + ")";
}

int errno_of(DWORD code) {
    switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_NETPATH:
        return ENOENT;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return EEXIST;
    case ERROR_ACCESS_DENIED:
    case ERROR_DELETE_PENDING:
    case ERROR_WRITE_PROTECT:
        return EACCES;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return EBUSY;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return ENOSPC;
    case ERROR_DIR_NOT_EMPTY:
        return ENOTEMPTY;
    case ERROR_DIRECTORY:
        return ENOTDIR;
    case ERROR_CANT_RESOLVE_FILENAME:
        return ELOOP;
    case ERROR_FILENAME_EXCED_RANGE:
        return ENAMETOOLONG;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
        return EOPNOTSUPP;
    case ERROR_CALL_NOT_IMPLEMENTED:
        return ENOSYS;
    case ERROR_INVALID_PARAMETER:
        return EINVAL;
    case ERROR_TOO_MANY_OPEN_FILES:
        return EMFILE;
    default:
        return EIO;
    }
}

HANDLE handle_of(int fd) {
    if (fd < 0) return INVALID_HANDLE_VALUE;
    return reinterpret_cast<HANDLE>(_get_osfhandle(fd));
}

int descriptor_of(HANDLE h, int flags) {
    const int fd = _open_osfhandle(reinterpret_cast<intptr_t>(h), flags | _O_BINARY | _O_NOINHERIT);
    if (fd < 0) {
        CloseHandle(h);
        errno = EMFILE;
    }
    return fd;
}

bool file_id(HANDLE h, FileId &out, DWORD *attributes) {
    BY_HANDLE_FILE_INFORMATION info{};
    if (!GetFileInformationByHandle(h, &info)) return false;
    out.volume = info.dwVolumeSerialNumber;
    out.index = (static_cast<std::uint64_t>(info.nFileIndexHigh) << 32) | info.nFileIndexLow;
    if (attributes) *attributes = info.dwFileAttributes;
    return true;
}

DWORD rename_replacing(const std::wstring &from, const std::wstring &to) {
    DWORD delay_ms = 10;
    for (int attempt = 0;; ++attempt) {
        if (MoveFileExW(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) return 0;
        const DWORD e = GetLastError();
        const bool in_use = e == ERROR_ACCESS_DENIED || e == ERROR_SHARING_VIOLATION || e == ERROR_LOCK_VIOLATION;
        // (Access denied is also what a real permission problem says: those
        // fail the same after the retries, only later.)
        if (!in_use || attempt >= 8) return e;
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        delay_ms = delay_ms * 2 > 500 ? 500 : delay_ms * 2;
    }
}

DWORD remove_file(const std::wstring &path) {
    HANDLE h = CreateFileW(path.c_str(), DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE) return GetLastError();
    DWORD e = 0;
    // FileDispositionInfoEx (21; Windows 10 1709+), which mingw-w64's headers
    // declare only for a later _WIN32_WINNT than they can be given.
    struct {
        DWORD Flags;
    } posix{0x1 /* DELETE */ | 0x2 /* POSIX_SEMANTICS */};
    if (!SetFileInformationByHandle(h, static_cast<FILE_INFO_BY_HANDLE_CLASS>(21), &posix, sizeof posix)) {
        FILE_DISPOSITION_INFO classic{};
        classic.DeleteFile = TRUE;
        if (!SetFileInformationByHandle(h, FileDispositionInfo, &classic, sizeof classic)) e = GetLastError();
    }
    CloseHandle(h);
    return e;
}

DWORD create_directories(const std::wstring &path) {
    if (CreateDirectoryW(path.c_str(), nullptr)) return 0;
    DWORD e = GetLastError();
    if (e == ERROR_ALREADY_EXISTS) {
        const DWORD a = GetFileAttributesW(path.c_str());
        return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) ? 0 : ERROR_ALREADY_EXISTS;
    }
    if (e != ERROR_PATH_NOT_FOUND) return e;
    const std::size_t slash = path.find_last_of(L'\\');
    // (Stop at the prefix and the drive or share: "\\?\C:" exists or nothing does.)
    if (slash == std::wstring::npos || slash <= 6) return e;
    if (const DWORD p = create_directories(path.substr(0, slash)); p != 0) return p;
    if (CreateDirectoryW(path.c_str(), nullptr) || GetLastError() == ERROR_ALREADY_EXISTS) return 0;
    return GetLastError();
}

}  // namespace blobfetch::win32
#endif  // _WIN32
