// Windows side of host/caller_watch.h, reduced: the parent process (found
// with a Toolhelp snapshot) is opened with SYNCHRONIZE and waited on by a
// thread; its exit counts as the caller gone. A handle names that very
// process (a pid may be reused): it was opened right if the process started
// before this one (its creation time is checked). No shell is looked
// through (cmd.exe runs its command as a child and waits for it). A write
// to stdout/stderr that fails with EPIPE (a closed pipe) counts as on POSIX
// (progress_display.cpp). A parent that is gone already, or cannot be
// opened (Wine started from a Unix process has none), leaves only the
// output watched.
#ifdef _WIN32
#include "host/caller_watch.h"

#include <windows.h>
#include <tlhelp32.h>

#include <atomic>
#include <thread>

namespace blobfetch::host {
namespace {

std::atomic<bool> g_gone{false};
std::atomic<void (*)()> g_on_gone{nullptr};

void gone() {
    if (g_gone.exchange(true)) return;
    if (auto f = g_on_gone.load()) f();
}

// The parent's pid from a process snapshot; 0 when unknown.
DWORD parent_pid() {
    const HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (snap == INVALID_HANDLE_VALUE) return 0;
    PROCESSENTRY32W e{};
    e.dwSize = sizeof e;
    const DWORD self = GetCurrentProcessId();
    DWORD parent = 0;
    for (BOOL ok = Process32FirstW(snap, &e); ok; ok = Process32NextW(snap, &e))
        if (e.th32ProcessID == self) {
            parent = e.th32ParentProcessID;
            break;
        }
    CloseHandle(snap);
    return parent;
}

std::uint64_t creation_time(HANDLE process) {
    FILETIME created{}, exited{}, kernel{}, user{};
    if (!GetProcessTimes(process, &created, &exited, &kernel, &user)) return 0;
    return (static_cast<std::uint64_t>(created.dwHighDateTime) << 32) | created.dwLowDateTime;
}

}  // namespace

bool caller_gone() { return g_gone.load(); }

void note_caller_gone() { gone(); }

std::string start_caller_watch(void (*on_gone)()) {
    g_on_gone.store(on_gone);
    const DWORD parent = parent_pid();
    if (parent == 0) return "the output only (no parent process)";
    const HANDLE process = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, parent);
    if (!process) return "the output only (parent " + std::to_string(parent) + " cannot be opened or is gone)";
    const std::uint64_t theirs = creation_time(process), ours = creation_time(GetCurrentProcess());
    if (theirs == 0 || ours == 0 || theirs > ours) {
        // Another process got the parent's pid: the parent is gone.
        CloseHandle(process);
        gone();
        return "parent " + std::to_string(parent) + " (gone already)";
    }
    std::thread([process] {
        WaitForSingleObject(process, INFINITE);
        CloseHandle(process);
        gone();
    }).detach();
    return "parent " + std::to_string(parent);
}

}  // namespace blobfetch::host
#endif  // _WIN32
