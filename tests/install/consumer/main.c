/* Loads the installed plugin through its only exported symbol, checks the ABI
 * handshake and a session's life cycle; prints the plugin's version. */
#include <blobfetch/fetch_provider.h>

#include <dlfcn.h>
#include <stdio.h>

int main(void) {
    void *module = dlopen(BLOBFETCH_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    bf_get_provider_fn get = (bf_get_provider_fn)dlsym(module, BF_ENTRY_SYMBOL);
    const bf_provider *provider = NULL;
    char err[256] = "";
    if (!get || get(BF_ABI_VERSION, &provider, err, sizeof err) != BF_OK || !provider) {
        fprintf(stderr, "bf_get_provider: %s\n", err);
        return 1;
    }
    bf_session *session = NULL;
    if (provider->session_create("{\"concurrency\": 2}", &session, err, sizeof err) != BF_OK) {
        fprintf(stderr, "session_create: %s\n", err);
        return 1;
    }
    provider->session_destroy(session);
    printf("loaded blobfetch %s (ABI %u)\n", provider->plugin_version, provider->abi_version);
    dlclose(module);
    return 0;
}
