// Windows side of host/plugin_loader.h: LoadLibraryExW of the DLL (UTF-16,
// long paths), GetProcAddress of the entry symbol, FreeLibrary.
#ifdef _WIN32
#include "host/plugin_loader.h"

#include <cstdlib>
#include <utility>

#include "io/file.h"
#include "io/win32.h"

namespace blobfetch::host {
namespace {

constexpr const char *kPluginFile = "blobfetch_plugin.dll";

void unload(void *handle) {
    if (handle) FreeLibrary(static_cast<HMODULE>(handle));
}

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

LoadedPlugin::~LoadedPlugin() { unload(m_handle); }

LoadedPlugin::LoadedPlugin(LoadedPlugin &&o) noexcept
    : m_handle(std::exchange(o.m_handle, nullptr)), m_provider(std::exchange(o.m_provider, nullptr)),
      m_path(std::move(o.m_path)) {}

LoadedPlugin &LoadedPlugin::operator=(LoadedPlugin &&o) noexcept {
    if (this != &o) {
        unload(m_handle);
        m_handle = std::exchange(o.m_handle, nullptr);
        m_provider = std::exchange(o.m_provider, nullptr);
        m_path = std::move(o.m_path);
    }
    return *this;
}

std::string plugin_path(const std::string &explicit_path) {
    if (!explicit_path.empty()) return explicit_path;
    if (const char *env = std::getenv("BLOBFETCH_PLUGIN"); env && *env) return env;
    const auto exe = executable_path();
    if (exe.empty()) return kPluginFile;
    // Installed and built alike: the DLL sits next to blobfetch.exe.
    return path_to_utf8(exe.parent_path() / kPluginFile);
}

Expected<LoadedPlugin> load_plugin(const std::string &path) {
    // LOAD_WITH_ALTERED_SEARCH_PATH: the DLL's own directory is searched for
    // what it imports (a full path is required for it; the system DLLs it
    // links come from System32 anyway).
    const std::wstring os_path = win32::long_path(path_from_utf8(path));
    HMODULE handle = LoadLibraryExW(os_path.c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!handle) {
        const DWORD e = GetLastError();
        return Status(Errc::invalid_argument, "cannot load the plugin '" + path + "': " + win32::error_text(e) +
                                                  "; pass --plugin PATH or set BLOBFETCH_PLUGIN");
    }
    auto entry = reinterpret_cast<bf_get_provider_fn>(reinterpret_cast<void *>(GetProcAddress(handle, BF_ENTRY_SYMBOL)));
    if (!entry) {
        FreeLibrary(handle);
        return Status(Errc::invalid_argument,
                      "'" + path + "' is not a blobfetch plugin: it does not export " BF_ENTRY_SYMBOL);
    }
    const bf_provider *provider = nullptr;
    char err[512] = "";
    bf_status rc = entry(BF_ABI_VERSION, &provider, err, sizeof err);
    if (rc != BF_OK || !provider) {
        FreeLibrary(handle);
        return Status(Errc::unsupported_abi, "the plugin '" + path + "' refused C ABI version " +
                                                 std::to_string(BF_ABI_VERSION) + ": " + err);
    }
    return LoadedPlugin(handle, provider, path);
}

}  // namespace blobfetch::host
#endif  // _WIN32
