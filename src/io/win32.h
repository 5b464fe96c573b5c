#pragma once
// Internal to blobfetch on Windows: the OS boundary. Every string blobfetch
// holds is UTF-8; every path handed to Windows is UTF-16 and absolute with
// the `\\?\` prefix, so that paths longer than MAX_PATH (260) work without the
// system's long-path opt-in. Compiled only on Windows.
#ifdef _WIN32
#include <windows.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace blobfetch::win32 {

// An OVERLAPPED that addresses `offset` (for positional I/O and lock ranges
// on synchronous handles).
inline OVERLAPPED overlapped_at(std::int64_t offset) {
    OVERLAPPED ov{};
    ov.Offset = static_cast<DWORD>(static_cast<std::uint64_t>(offset) & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(static_cast<std::uint64_t>(offset) >> 32);
    return ov;
}

// UTF-8 <-> UTF-16. Invalid UTF-8 becomes U+FFFD (MultiByteToWideChar).
std::wstring widen(std::string_view utf8);
std::string narrow(std::wstring_view utf16);

// `path` made absolute (against the current directory) with `\\?\` (or
// `\\?\UNC\` for a share) in front, separators as '\'. A path that has the
// prefix already is kept. Such a path is not normalised by Windows any more,
// so "." and ".." components are resolved here.
std::wstring long_path(const std::filesystem::path &path);
// long_path(dir) + '\' + widen(name): one component below an open directory.
std::wstring child_path(const std::wstring &dir, std::string_view name);

// "The system cannot find the file specified (error 2)".
std::string error_text(DWORD code);
// The nearest errno for a Windows error (ENOENT, EEXIST, EACCES, EBUSY,
// ENOSPC, ELOOP, ENOTEMPTY, ...; EIO otherwise).
int errno_of(DWORD code);

// The HANDLE behind a C runtime descriptor (INVALID_HANDLE_VALUE for -1).
HANDLE handle_of(int fd);
// Wraps `h` in a C runtime descriptor that owns it (closing one closes the
// other); -1 (and `h` closed) when the runtime's table is full.
int descriptor_of(HANDLE h, int flags);

// The identity of an open file: volume serial number and file index (what
// st_dev and st_ino are on POSIX). False when Windows cannot tell.
struct FileId {
    std::uint64_t volume = 0, index = 0;
    bool operator==(const FileId &) const = default;
};
bool file_id(HANDLE h, FileId &out, DWORD *attributes = nullptr);

// MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH).
// When the target is open in another process (a virus scanner, an indexer,
// a reader without FILE_SHARE_DELETE), Windows refuses with access denied or
// a sharing violation for a moment; like vcpkg-tool (microsoft/vcpkg-tool
// #2096) the rename is tried again, here for up to about 2 s in growing
// steps. 0, or the last Windows error.
DWORD rename_replacing(const std::wstring &from, const std::wstring &to);

// Removes a file with POSIX semantics where Windows has them (10 1709+:
// the name goes at once even while others have it open, like unlink); else
// it is marked for deletion and its name goes with the last handle. 0, or
// the Windows error.
DWORD remove_file(const std::wstring &path);

// Creates `path` and every missing parent (long paths included). 0, or the
// Windows error.
DWORD create_directories(const std::wstring &path);

}  // namespace blobfetch::win32
#endif  // _WIN32
