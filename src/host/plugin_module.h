#pragma once
// The OS half of host/plugin_loader.h: open a shared module, find a symbol,
// close it, and where the plugin sits by default. plugin_module_posix.cpp
// (dlopen) and plugin_module_win32.cpp (LoadLibraryExW) implement it; the
// loading protocol itself (the entry symbol, the ABI version, the errors)
// is portable, in plugin_loader.cpp.

#include <string>

#include "base/status.h"

namespace blobfetch::host::module {

// Opens the module at `path` (UTF-8). The error is the OS's own text.
Expected<void *> open(const std::string &path);
// The address of `name` in `handle`, or nullptr.
void *symbol(void *handle, const char *name);
void close(void *handle);
// The plugin next to this executable (POSIX: also an installed tree's).
std::string default_path();

}  // namespace blobfetch::host::module
