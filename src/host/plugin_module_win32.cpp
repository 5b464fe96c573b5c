// Windows side of host/plugin_module.h: LoadLibraryExW of the DLL (UTF-16,
// long paths), GetProcAddress, FreeLibrary; the DLL sits next to the exe.
#ifdef _WIN32
#include "host/plugin_module.h"

#include <cstdlib>
#include <utility>

#include "io/file.h"
#include "io/win32.h"

namespace blobfetch::host::module {
namespace {

constexpr const char *kPluginFile = "blobfetch_plugin.dll";

// This executable's own path (GetModuleFileNameW, grown until it fits).
std::filesystem::path executable_path() {
    std::wstring buf(512, L'\0');
    for (;;) {
        const DWORD n = GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
        if (n == 0) return {};
        if (n < buf.size()) {
            buf.resize(n);
            return std::filesystem::path(buf);
        }
        buf.resize(buf.size() * 2);
    }
}

}  // namespace

std::string default_path() {
    const auto exe = executable_path();
    if (exe.empty()) return kPluginFile;
    // Installed and built alike: the DLL sits next to blobfetch.exe.
    return path_to_utf8(exe.parent_path() / kPluginFile);
}

Expected<void *> open(const std::string &path) {
    // LOAD_WITH_ALTERED_SEARCH_PATH: the DLL's own directory is searched for
    // what it imports (a full path is required for it; the system DLLs it
    // links come from System32 anyway).
    const std::wstring os_path = win32::long_path(path_from_utf8(path));
    HMODULE handle = LoadLibraryExW(os_path.c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!handle) return Status(Errc::invalid_argument, win32::error_text(GetLastError()));
    return static_cast<void *>(handle);
}

void *symbol(void *handle, const char *name) {
    return reinterpret_cast<void *>(GetProcAddress(static_cast<HMODULE>(handle), name));
}

void close(void *handle) { FreeLibrary(static_cast<HMODULE>(handle)); }

}  // namespace blobfetch::host::module
#endif  // _WIN32
