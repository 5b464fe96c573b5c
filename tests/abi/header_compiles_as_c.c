/* Compiled as strict C99: the public header must not need C++. */
#include <blobfetch/fetch_provider.h>

int blobfetch_abi_c_check_sizes(void);
int blobfetch_abi_c_check_sizes(void) {
    bf_blob blob = {0};
    bf_blob_result result = {0};
    bf_callbacks callbacks = {0};
    bf_progress progress = {0};
    bf_get_provider_fn entry = 0;
    blob.struct_size = (uint32_t)sizeof blob;
    result.struct_size = (uint32_t)sizeof result;
    callbacks.struct_size = (uint32_t)sizeof callbacks;
    progress.struct_size = (uint32_t)sizeof progress;
    (void)entry;
    return (int)(blob.struct_size + result.struct_size + callbacks.struct_size + progress.struct_size);
}
