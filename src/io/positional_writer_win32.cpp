// Windows positional writer: WriteFile/ReadFile with an OVERLAPPED offset on a
// handle opened without FILE_FLAG_OVERLAPPED, so each call is synchronous and
// positional (no shared file pointer), FlushFileBuffers for durability and
// SetFileInformationByHandle for the size. Compiled only on Windows; the
// contract is the one in positional_writer.h.
#ifdef _WIN32
#include <windows.h>

#include <string>

#include "io/positional_writer.h"

namespace blobfetch {
namespace {

std::string last_error_text(DWORD code) {
    char *buf = nullptr;
    FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                   code, 0, reinterpret_cast<char *>(&buf), 0, nullptr);
    std::string s = buf ? buf : ("error " + std::to_string(code));
    if (buf) LocalFree(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.')) s.pop_back();
    return s;
}

OVERLAPPED at(std::int64_t offset) {
    OVERLAPPED ov{};
    ov.Offset = static_cast<DWORD>(static_cast<std::uint64_t>(offset) & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(static_cast<std::uint64_t>(offset) >> 32);
    return ov;
}

class Win32Writer final : public IPositionalWriter {
public:
    Win32Writer(HANDLE h, std::string name) : m_h(h), m_name(std::move(name)) {}
    ~Win32Writer() override { CloseHandle(m_h); }

    Status write_at(const void *data, std::size_t len, std::int64_t offset) override {
        const char *p = static_cast<const char *>(data);
        while (len > 0) {
            DWORD piece = static_cast<DWORD>(len > (1u << 30) ? (1u << 30) : len), done = 0;
            OVERLAPPED ov = at(offset);
            if (!WriteFile(m_h, p, piece, &done, &ov)) {
                DWORD e = GetLastError();
                std::string hint = e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL
                                       ? ": free some disk space and run again"
                                       : "";
                return Status(Errc::io, "cannot write to '" + m_name + "' at offset " + std::to_string(offset) + ": " +
                                            last_error_text(e) + hint);
            }
            if (done == 0) return Status(Errc::io, "cannot write to '" + m_name + "': the write made no progress");
            p += done;
            len -= done;
            offset += done;
        }
        return Status::success();
    }

    Expected<std::size_t> read_at(void *data, std::size_t len, std::int64_t offset) override {
        std::size_t got = 0;
        char *p = static_cast<char *>(data);
        while (got < len) {
            DWORD piece = static_cast<DWORD>(len - got > (1u << 30) ? (1u << 30) : len - got), done = 0;
            OVERLAPPED ov = at(offset + static_cast<std::int64_t>(got));
            if (!ReadFile(m_h, p + got, piece, &done, &ov)) {
                DWORD e = GetLastError();
                if (e == ERROR_HANDLE_EOF) break;
                return Status(Errc::io, "cannot read '" + m_name + "': " + last_error_text(e));
            }
            if (done == 0) break;
            got += done;
        }
        return got;
    }

    Status sync() override {
        if (!FlushFileBuffers(m_h))
            return Status(Errc::io, "cannot flush '" + m_name + "' to disk: " + last_error_text(GetLastError()));
        return Status::success();
    }

    Expected<std::int64_t> size() override {
        LARGE_INTEGER n{};
        if (!GetFileSizeEx(m_h, &n))
            return Status(Errc::io, "cannot get the size of '" + m_name + "': " + last_error_text(GetLastError()));
        return static_cast<std::int64_t>(n.QuadPart);
    }

    Status preallocate(std::int64_t size) override {
        FILE_ALLOCATION_INFO alloc{};
        alloc.AllocationSize.QuadPart = size;
        if (!SetFileInformationByHandle(m_h, FileAllocationInfo, &alloc, sizeof alloc)) {
            DWORD e = GetLastError();
            if (e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL)
                return Status(Errc::io, "not enough disk space for '" + m_name + "' (" + std::to_string(size) +
                                            " bytes); free some space and run again");
        }
        FILE_END_OF_FILE_INFO eof{};
        eof.EndOfFile.QuadPart = size;
        if (!SetFileInformationByHandle(m_h, FileEndOfFileInfo, &eof, sizeof eof))
            return Status(Errc::io, "cannot set the size of '" + m_name + "': " + last_error_text(GetLastError()));
        return Status::success();
    }

    const std::string &name() const override { return m_name; }

private:
    HANDLE m_h;
    std::string m_name;
};

}  // namespace

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path,
                                                                    AllocateFn) {
    HANDLE h = CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ, nullptr, OPEN_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h == INVALID_HANDLE_VALUE)
        return Status(Errc::io, "cannot open '" + path.string() + "': " + last_error_text(GetLastError()) +
                                    "; check that the cache directory exists and is writable");
    return std::unique_ptr<IPositionalWriter>(new Win32Writer(h, path.string()));
}

Expected<std::unique_ptr<IPositionalWriter>> open_positional_writer(const std::filesystem::path &path) {
    return open_positional_writer(path, nullptr);
}

}  // namespace blobfetch
#endif  // _WIN32
