// The portable half of loading the plugin: the entry symbol, the ABI
// version handshake and the errors; the OS half is host/plugin_module.h.
#include "host/plugin_loader.h"

#include <cstdlib>
#include <utility>

#include "host/plugin_module.h"

namespace blobfetch::host {

LoadedPlugin::~LoadedPlugin() {
    if (m_handle) module::close(m_handle);
}

LoadedPlugin::LoadedPlugin(LoadedPlugin &&o) noexcept
    : m_handle(std::exchange(o.m_handle, nullptr)), m_provider(std::exchange(o.m_provider, nullptr)),
      m_path(std::move(o.m_path)) {}

LoadedPlugin &LoadedPlugin::operator=(LoadedPlugin &&o) noexcept {
    if (this != &o) {
        if (m_handle) module::close(m_handle);
        m_handle = std::exchange(o.m_handle, nullptr);
        m_provider = std::exchange(o.m_provider, nullptr);
        m_path = std::move(o.m_path);
    }
    return *this;
}

std::string plugin_path(const std::string &explicit_path) {
    if (!explicit_path.empty()) return explicit_path;
    if (const char *env = std::getenv("BLOBFETCH_PLUGIN"); env && *env) return env;
    return module::default_path();
}

Expected<LoadedPlugin> load_plugin(const std::string &path) {
    auto handle = module::open(path);
    if (!handle)
        return Status(Errc::invalid_argument, "cannot load the plugin '" + path + "': " + handle.message() +
                                                  "; pass --plugin PATH or set BLOBFETCH_PLUGIN");
    auto entry = reinterpret_cast<bf_get_provider_fn>(module::symbol(*handle, BF_ENTRY_SYMBOL));
    if (!entry) {
        module::close(*handle);
        return Status(Errc::invalid_argument,
                      "'" + path + "' is not a blobfetch plugin: it does not export " BF_ENTRY_SYMBOL);
    }
    const bf_provider *provider = nullptr;
    char err[512] = "";
    bf_status rc = entry(BF_ABI_VERSION, &provider, err, sizeof err);
    if (rc != BF_OK || !provider) {
        module::close(*handle);
        return Status(Errc::unsupported_abi, "the plugin '" + path + "' refused C ABI version " +
                                                 std::to_string(BF_ABI_VERSION) + ": " + err);
    }
    return LoadedPlugin(*handle, provider, path);
}

}  // namespace blobfetch::host
