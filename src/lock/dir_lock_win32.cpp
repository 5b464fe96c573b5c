// Windows directory lock: the lock file opened with no sharing at all and
// FILE_FLAG_DELETE_ON_CLOSE, so it exists exactly while held and vanishes
// when the holder's handle closes (also when the holder dies). A sharing
// violation (or a pending delete) is contention; access denied is a real
// permission error. Compiled only on Windows; the contract is dir_lock.h's.
#ifdef _WIN32
#include <windows.h>

#include <ctime>
#include <string>

#include "lock/dir_lock.h"

namespace blobfetch {

struct DirLock::Impl {
    HANDLE h = INVALID_HANDLE_VALUE;
    ~Impl() {
        if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
    }
};

DirLock::DirLock(std::unique_ptr<Impl> impl, std::filesystem::path path, bool enforced)
    : m_impl(std::move(impl)), m_path(std::move(path)), m_enforced(enforced) {}

DirLock::~DirLock() = default;

Expected<TryLock> try_lock_directory(const std::filesystem::path &dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status(Errc::io, "cannot create directory '" + dir.string() + "': " + ec.message());
    const std::filesystem::path path = dir / kLockFileName;
    HANDLE h = CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, 0 /* no sharing */, nullptr, OPEN_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_DELETE_ON_CLOSE, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        const DWORD e = GetLastError();
        if (e == ERROR_SHARING_VIOLATION || e == ERROR_LOCK_VIOLATION || e == ERROR_DELETE_PENDING)
            return TryLock{nullptr, {}};  // held; no sharing means its line cannot be read
        return Status(Errc::io, "cannot open the lock file '" + path.string() + "': Windows error " +
                                    std::to_string(e) + "; check the permissions of the cache directory");
    }
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_s(&tm, &t);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const std::string line = "PID:" + std::to_string(GetCurrentProcessId()) + ",Time:" + when + "\r\n";
    DWORD written = 0;
    WriteFile(h, line.data(), static_cast<DWORD>(line.size()), &written, nullptr);  // diagnosis only
    auto impl = std::make_unique<DirLock::Impl>();
    impl->h = h;
    return TryLock{std::make_unique<DirLock>(std::move(impl), path, true), {}};
}

}  // namespace blobfetch
#endif  // _WIN32
