// POSIX side of host/plugin_module.h: dlopen, dlsym, dlclose.
#ifndef _WIN32
#include "host/plugin_module.h"

#include <filesystem>

#include <dlfcn.h>

namespace blobfetch::host::module {

Expected<void *> open(const std::string &path) {
    dlerror();
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *e = dlerror();
        return Status(Errc::invalid_argument, e ? e : "unknown error");
    }
    return handle;
}

void *symbol(void *handle, const char *name) { return dlsym(handle, name); }

void close(void *handle) { dlclose(handle); }

std::string default_path() {
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

}  // namespace blobfetch::host::module
#endif  // !_WIN32
