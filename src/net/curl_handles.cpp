#include "net/curl_handles.h"

#include <mutex>

namespace blobfetch::detail {

void ensure_curl_global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace blobfetch::detail
