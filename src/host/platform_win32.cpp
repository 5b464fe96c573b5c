// Windows side of host/platform.h.
#ifdef _WIN32
#include "host/platform.h"

#include <windows.h>
#include <io.h>
#include <shellapi.h>  // (after windows.h)

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "io/positional_writer.h"
#include "io/win32.h"

namespace blobfetch::host {
namespace {

std::atomic<void (*)()> g_on_interrupt{nullptr};
std::atomic<int> g_interrupts{0};

BOOL WINAPI on_console_event(DWORD event) {
    switch (event) {
        case CTRL_C_EVENT:
        case CTRL_BREAK_EVENT:
        case CTRL_CLOSE_EVENT:
        case CTRL_LOGOFF_EVENT:
        case CTRL_SHUTDOWN_EVENT:
            if (g_interrupts.fetch_add(1) > 0) return FALSE;  // the second one: the default handler ends the process
            if (auto f = g_on_interrupt.load()) f();
            return TRUE;
        default:
            return FALSE;
    }
}

}  // namespace

std::vector<std::string> utf8_arguments(int argc, char **argv) {
    int n = 0;
    LPWSTR *wide = CommandLineToArgvW(GetCommandLineW(), &n);
    if (!wide) return std::vector<std::string>(argv, argv + argc);  // (out of memory: the ANSI ones)
    std::vector<std::string> args;
    args.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) args.push_back(win32::narrow(wide[i]));
    LocalFree(wide);
    return args;
}

void install_interrupt_handlers(void (*on_interrupt)()) {
    g_on_interrupt.store(on_interrupt);
    SetConsoleCtrlHandler(on_console_event, TRUE);
}

bool stderr_is_terminal() { return _isatty(_fileno(stderr)) != 0; }

std::vector<std::string> entries_of(const DirHandle &dir) {
    std::vector<std::string> names;
    const std::wstring pattern = win32::long_path(dir.path()) + L"\\*";
    WIN32_FIND_DATAW data{};
    const HANDLE find = FindFirstFileExW(pattern.c_str(), FindExInfoBasic, &data, FindExSearchNameMatch, nullptr, 0);
    if (find == INVALID_HANDLE_VALUE) return names;
    do {
        const std::string n = win32::narrow(data.cFileName);
        if (n != "." && n != "..") names.push_back(n);
    } while (FindNextFileW(find, &data));
    FindClose(find);
    return names;
}

// The owner holds kPrivateHoldByte locked (LockFileEx: per handle, enforced
// between any two handles, so no second probe is needed as with flock).
Owner private_owner_of(const DirHandle &dir, const std::string &name) {
    UniqueFd fd = dir.open(name, O_RDONLY);
    if (!fd) return errno == ENOENT ? Owner::gone : Owner::unknown;
    OVERLAPPED ov{};
    ov.Offset = static_cast<DWORD>(kPrivateHoldByte & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(kPrivateHoldByte >> 32);
    const HANDLE h = win32::handle_of(fd.get());
    if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
        return GetLastError() == ERROR_LOCK_VIOLATION ? Owner::alive : Owner::unknown;
    UnlockFileEx(h, 0, 1, 0, &ov);
    return Owner::gone;
}

}  // namespace blobfetch::host
#endif  // _WIN32
