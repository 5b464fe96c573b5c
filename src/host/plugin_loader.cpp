// POSIX (dlopen); the Windows side is plugin_loader_win32.cpp.
#ifndef _WIN32
#include "host/plugin_loader.h"

#include <cstdlib>
#include <utility>

#include <dlfcn.h>
#include <unistd.h>

namespace blobfetch::host {

LoadedPlugin::~LoadedPlugin() {
    if (m_handle) dlclose(m_handle);
}

LoadedPlugin::LoadedPlugin(LoadedPlugin &&o) noexcept
    : m_handle(std::exchange(o.m_handle, nullptr)), m_provider(std::exchange(o.m_provider, nullptr)),
      m_path(std::move(o.m_path)) {}

LoadedPlugin &LoadedPlugin::operator=(LoadedPlugin &&o) noexcept {
    if (this != &o) {
        if (m_handle) dlclose(m_handle);
        m_handle = std::exchange(o.m_handle, nullptr);
        m_provider = std::exchange(o.m_provider, nullptr);
        m_path = std::move(o.m_path);
    }
    return *this;
}

std::string plugin_path(const std::string &explicit_path) {
    if (!explicit_path.empty()) return explicit_path;
    if (const char *env = std::getenv("BLOBFETCH_PLUGIN"); env && *env) return env;
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return "libblobfetch_plugin.so";
    const auto beside = exe.parent_path() / "libblobfetch_plugin.so";  // the build tree
#ifdef BLOBFETCH_PLUGIN_RELDIR
    // An installed tree: <prefix>/bin/blobfetch and <prefix>/<libdir>/blobfetch/.
    const auto installed = (exe.parent_path() / BLOBFETCH_PLUGIN_RELDIR / "libblobfetch_plugin.so").lexically_normal();
    if (!std::filesystem::exists(beside, ec) && std::filesystem::exists(installed, ec)) return installed.string();
#endif
    return beside.string();
}

Expected<LoadedPlugin> load_plugin(const std::string &path) {
    dlerror();
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *e = dlerror();
        return Status(Errc::invalid_argument, "cannot load the plugin '" + path + "': " + (e ? e : "unknown error") +
                                                  "; pass --plugin PATH or set BLOBFETCH_PLUGIN");
    }
    auto entry = reinterpret_cast<bf_get_provider_fn>(dlsym(handle, BF_ENTRY_SYMBOL));
    if (!entry) {
        dlclose(handle);
        return Status(Errc::invalid_argument,
                      "'" + path + "' is not a blobfetch plugin: it does not export " BF_ENTRY_SYMBOL);
    }
    const bf_provider *provider = nullptr;
    char err[512] = "";
    bf_status rc = entry(BF_ABI_VERSION, &provider, err, sizeof err);
    if (rc != BF_OK || !provider) {
        dlclose(handle);
        return Status(Errc::unsupported_abi, "the plugin '" + path + "' refused C ABI version " +
                                                 std::to_string(BF_ABI_VERSION) + ": " + err);
    }
    return LoadedPlugin(handle, provider, path);
}

}  // namespace blobfetch::host
#endif  // !_WIN32
