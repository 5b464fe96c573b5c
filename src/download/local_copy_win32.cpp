// Windows copy of file:// blobs (local_copy.h): the file is opened as UTF-16
// with the `\\?\` prefix (open_for_reading), so non-ASCII and long paths
// work, and read with ReadFile at an offset (read_at_most). A URL's path
// "/C:/dir/blob.zip" names C:\dir\blob.zip; "//server/share/..." (from
// file:////server/share/...) a share. Only disk files are copied: a pipe or
// a device (GetFileType other than FILE_TYPE_DISK) is refused, so a read
// never blocks beyond the cancellation's reach.
#ifdef _WIN32
#include "download/local_copy.h"

#include <io.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "base/path_safety.h"
#include "io/file.h"
#include "io/win32.h"

namespace blobfetch {
namespace {

constexpr std::size_t kPiece = 1 << 20;

// "/C:/x" -> "C:/x"; other paths unchanged.
std::string windows_path_of(const std::string &url_path) {
    if (url_path.size() >= 3 && url_path[0] == '/' && std::isalpha(static_cast<unsigned char>(url_path[1])) &&
        url_path[2] == ':')
        return url_path.substr(1);
    return url_path;
}

}  // namespace

Expected<std::int64_t> copy_local_file(std::string_view url, const std::string &shown, IPositionalWriter &out,
                                       std::int64_t expected_size, std::int64_t max_size,
                                       const CancellationToken &cancel,
                                       const std::function<void(std::int64_t)> &on_bytes) {
    const auto url_path = file_url_path(url);
    if (!url_path)
        return Status(Errc::invalid_argument,
                      "'" + shown + "' is not a local file URL (file:///C:/absolute/path or file://localhost/...)");
    const std::string path = windows_path_of(*url_path);
    const std::filesystem::path os_path = path_from_utf8(path);
    const DWORD attributes = GetFileAttributesW(win32::long_path(os_path).c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY))
        return Status(Errc::not_found, shown + " is a directory: the source does not have this blob");
    UniqueFd fd = open_for_reading(os_path);
    if (!fd) {
        const int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return Status(Errc::not_found, shown + ": no such file: the source does not have this blob");
        return Status(Errc::io, "cannot open '" + path + "' (from " + shown + "): " + std::strerror(e));
    }
    const HANDLE h = win32::handle_of(fd.get());
    if (GetFileType(h) != FILE_TYPE_DISK)
        return Status(Errc::invalid_argument, "'" + path + "' (from " + shown + ") is no disk file (a pipe or a "
                                              "device): on Windows only files are copied from file:// sources");
    LARGE_INTEGER size{};
    if (!GetFileSizeEx(h, &size))
        return Status(Errc::io, "cannot inspect '" + path + "': " + win32::error_text(GetLastError()));
    const std::int64_t file_size = size.QuadPart;
    if (expected_size >= 0 && file_size != expected_size)
        return Status(Errc::verify, shown + " has " + std::to_string(file_size) + " bytes but the blob should have " +
                                        std::to_string(expected_size) +
                                        ": the source holds a different file; nothing was published");
    const std::int64_t limit = expected_size >= 0 ? expected_size : max_size;
    if (file_size > limit)
        return Status(Errc::verify, shown + " has " + std::to_string(file_size) + " bytes, more than max_blob_size (" +
                                        std::to_string(max_size) +
                                        "); nothing was written (raise max_blob_size if it is right)");

    auto buf = std::make_unique<char[]>(kPiece);
    std::int64_t copied = 0;
    for (;;) {
        if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while copying " + shown);
        auto n = read_at_most(fd.get(), buf.get(), kPiece, copied, path + " (from " + shown + ")");
        if (!n) return n.status();
        if (*n == 0) {
            if (expected_size >= 0 && copied != expected_size)
                return Status(Errc::verify, shown + " delivered " + std::to_string(copied) +
                                                " bytes but the blob should have " + std::to_string(expected_size) +
                                                ": the source holds a different file; nothing was published");
            break;
        }
        if (static_cast<std::int64_t>(*n) > limit - copied)
            return Status(Errc::verify, shown + " holds more than the " + std::to_string(limit) + " bytes " +
                                            (expected_size >= 0 ? "the blob should have" : "of max_blob_size") +
                                            "; nothing was published");
        if (Status s = out.write_at(buf.get(), *n, copied); !s.ok()) return s;
        copied += static_cast<std::int64_t>(*n);
        if (on_bytes) on_bytes(static_cast<std::int64_t>(*n));
    }
    return copied;
}

}  // namespace blobfetch
#endif  // _WIN32
