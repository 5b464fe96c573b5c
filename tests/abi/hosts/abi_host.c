/*
 * A C host built against one layout of the public header (tests/abi/layouts/
 * <layout>/blobfetch/fetch_provider.h, or include/ for the current one), as a
 * host compiled in the past or the future would be. It loads the plugin with
 * dlopen, fetches the blobs listed in a file with one fetch() call and prints
 * what every result says, so that plugin_abi_test.cpp can check that the
 * plugin walked the caller's arrays with the caller's struct_size.
 *
 *   abi-host PLUGIN CACHE_DIR LIST
 *
 * LIST: one blob a line, "URL<TAB>PATH<TAB>SIZE<TAB>SHA256" ("-": none).
 * Output: "result I status=S downloaded=D skipped=K state=T message=M" per
 * blob (state=? when the layout has no state member), then
 * "rc=R canary=ok|overwritten", canary meaning the bytes after the results
 * array (and, for the future layout, each result's member unknown to the
 * plugin) are untouched. Exit 0 when it could run the fetch at all.
 *
 * Built with BF_TEST_LAYOUT_HAS_STATE when the layout's bf_blob_result has
 * `state`, BF_TEST_LAYOUT_HAS_SHA512 when bf_blob has `sha512`, and
 * BF_TEST_LAYOUT_FUTURE when both structs carry a member appended after the
 * current ones (`future`).
 */
#include <blobfetch/fetch_provider.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOBS 256
#define CANARY_BYTES 256
#define CANARY 0x5a

static char *dup_field(const char *begin, const char *end) {
    size_t n = (size_t)(end - begin);
    char *s = (char *)malloc(n + 1);
    if (!s) exit(3);
    memcpy(s, begin, n);
    s[n] = '\0';
    return s;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: abi-host PLUGIN CACHE_DIR LIST\n");
        return 2;
    }
    void *module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    bf_get_provider_fn entry;
    *(void **)(&entry) = dlsym(module, BF_ENTRY_SYMBOL);
    const bf_provider *p = NULL;
    char err[512];
    if (!entry || entry(BF_ABI_VERSION, &p, err, sizeof err) != BF_OK) {
        fprintf(stderr, "entry: %s\n", entry ? err : "missing");
        return 2;
    }
    bf_session *session = NULL;
    if (p->session_create("{\"concurrency\": 4}", &session, err, sizeof err) != BF_OK) {
        fprintf(stderr, "session_create: %s\n", err);
        return 2;
    }

    static bf_blob blobs[MAX_BLOBS];
    static char *fields[MAX_BLOBS][4]; /* owned: freed before exit */
    uint32_t n = 0;
    FILE *list = fopen(argv[3], "r");
    if (!list) return 2;
    char line[4096];
    while (n < MAX_BLOBS && fgets(line, sizeof line, list)) {
        char *f[4];
        char *cur = line;
        int k;
        line[strcspn(line, "\r\n")] = '\0';
        for (k = 0; k < 4; ++k) {
            char *tab = strchr(cur, '\t');
            char *end = tab ? tab : cur + strlen(cur);
            f[k] = fields[n][k] = dup_field(cur, end);
            cur = tab ? tab + 1 : end;
        }
        memset(&blobs[n], 0, sizeof blobs[n]);
        blobs[n].struct_size = (uint32_t)sizeof(bf_blob);
        blobs[n].url = f[0];
        blobs[n].path = f[1];
        blobs[n].size = strtoll(f[2], NULL, 10);
        blobs[n].sha256 = strcmp(f[3], "-") == 0 ? NULL : f[3];
        blobs[n].headers = NULL;
#ifdef BF_TEST_LAYOUT_HAS_SHA512
        blobs[n].sha512 = NULL;
#endif
#ifdef BF_TEST_LAYOUT_FUTURE
        /* A member this plugin does not know: must never be read as anything. */
        blobs[n].future = (const char *)(uintptr_t)0x1;
#endif
        ++n;
    }
    fclose(list);

    /* The results, followed by canary bytes nobody may write. */
    unsigned char *mem = (unsigned char *)malloc(n * sizeof(bf_blob_result) + CANARY_BYTES);
    if (!mem) return 3;
    memset(mem, CANARY, n * sizeof(bf_blob_result) + CANARY_BYTES);
    bf_blob_result *results = (bf_blob_result *)mem;
    uint32_t i;
    for (i = 0; i < n; ++i) results[i].struct_size = (uint32_t)sizeof(bf_blob_result);

    bf_status rc = p->fetch(session, argv[2], blobs, n, NULL, results);

    int canary_ok = 1;
    for (i = 0; i < CANARY_BYTES; ++i)
        if (mem[n * sizeof(bf_blob_result) + i] != CANARY) canary_ok = 0;
    for (i = 0; i < n; ++i) {
        const bf_blob_result *r = &results[i];
#ifdef BF_TEST_LAYOUT_FUTURE
        {
            const unsigned char *fb = (const unsigned char *)&r->future;
            size_t b;
            for (b = 0; b < sizeof r->future; ++b)
                if (fb[b] != CANARY) canary_ok = 0;
        }
#endif
        printf("result %u status=%d downloaded=%lld skipped=%lld ", i, (int)r->status, (long long)r->bytes_downloaded,
               (long long)r->bytes_skipped);
#ifdef BF_TEST_LAYOUT_HAS_STATE
        printf("state=%d ", (int)r->state);
#else
        printf("state=? ");
#endif
        printf("message=%s\n", r->message && r->message != (const char *)0x5a5a5a5a5a5a5a5aull ? r->message : "(unset)");
    }
    printf("rc=%d canary=%s\n", (int)rc, canary_ok ? "ok" : "overwritten");
    p->session_destroy(session);
    free(mem);
    for (i = 0; i < n; ++i) {
        int k;
        for (k = 0; k < 4; ++k) free(fields[i][k]);
    }
    return 0;
}
