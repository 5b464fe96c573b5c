#pragma once
// Loads the plugin module (dlopen, or LoadLibraryExW: host/plugin_module.h)
// and obtains its provider table through the C ABI's single entry symbol.
// The host knows the plugin only this way.

#include <filesystem>
#include <string>

#include <blobfetch/fetch_provider.h>

#include "base/status.h"

namespace blobfetch::host {

// Owns a module handle. Move-only; closed on destruction.
class LoadedPlugin {
public:
    LoadedPlugin() = default;
    LoadedPlugin(void *handle, const bf_provider *provider, std::string path)
        : m_handle(handle), m_provider(provider), m_path(std::move(path)) {}
    ~LoadedPlugin();
    LoadedPlugin(LoadedPlugin &&o) noexcept;
    LoadedPlugin &operator=(LoadedPlugin &&o) noexcept;
    LoadedPlugin(const LoadedPlugin &) = delete;
    LoadedPlugin &operator=(const LoadedPlugin &) = delete;

    const bf_provider &provider() const { return *m_provider; }
    const std::string &path() const { return m_path; }

private:
    void *m_handle = nullptr;
    const bf_provider *m_provider = nullptr;
    std::string m_path;
};

// Where the plugin is looked for: `explicit_path` if given, else
// $BLOBFETCH_PLUGIN, else libblobfetch_plugin.so next to this executable.
std::string plugin_path(const std::string &explicit_path);

// Open + the symbol BF_ENTRY_SYMBOL + entry(BF_ABI_VERSION). Errors name the
// path and carry the OS's text (dlerror(), FormatMessage) or the plugin's
// refusal text.
Expected<LoadedPlugin> load_plugin(const std::string &path);

}  // namespace blobfetch::host
