/*
 * blobfetch fetch-provider C ABI.
 *
 * This is the only public header of blobfetch. A host (a package manager)
 * loads the plugin module with dlopen()/LoadLibrary(), looks up the single
 * exported symbol BF_ENTRY_SYMBOL ("bf_get_provider"), asks it for the ABI
 * version it speaks, and from then on talks to the plugin only through the
 * returned bf_provider table.
 *
 * Rules of this interface (they never change):
 *   - It compiles as C99 and C++; only fixed-width integers, plain structs,
 *     function pointers and NUL-terminated UTF-8 strings cross it.
 *   - Every struct starts with `struct_size` (the caller sets it to
 *     sizeof(struct) as it knows it). Members are only ever appended; each
 *     appended member is marked with the ABI version that added it. A reader
 *     never touches a member that lies beyond the `struct_size` it was given.
 *   - No exception and no C++ type crosses the boundary; every failure is a
 *     bf_status code plus text whose owner is stated next to it.
 *   - All functions are safe to call from any thread, except that one session
 *     runs at most one fetch() at a time.
 */
#ifndef BLOBFETCH_FETCH_PROVIDER_H
#define BLOBFETCH_FETCH_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The newest ABI version this header describes. */
#define BF_ABI_VERSION 1u

/** Name of the one symbol a plugin module exports (type bf_get_provider_fn). */
#define BF_ENTRY_SYMBOL "bf_get_provider"

#if defined(_WIN32)
#define BF_EXPORT __declspec(dllexport)
#else
#define BF_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

/** Plain integer status codes. New codes are only ever added. */
typedef int32_t bf_status;
#define BF_OK 0                   /**< success */
#define BF_E_INTERNAL 1           /**< a bug in blobfetch; the message says where */
#define BF_E_INVALID_ARGUMENT 2   /**< the caller passed something malformed */
#define BF_E_UNSUPPORTED_ABI 3    /**< the requested ABI version is not served */
#define BF_E_CONFIG 4             /**< the session configuration JSON is invalid */
#define BF_E_CANCELLED 5          /**< the progress callback asked to stop */
#define BF_E_NETWORK 6            /**< connection, DNS, TLS or timeout failure */
#define BF_E_HTTP 7               /**< the server answered with an error status */
#define BF_E_NOT_FOUND 8          /**< the source does not have the blob (404/410): a cache miss */
#define BF_E_VERIFY 9             /**< downloaded bytes failed size or SHA-256 verification */
#define BF_E_IO 10                /**< a local file-system operation failed */
#define BF_E_LOCK_TIMEOUT 11      /**< waiting for another process's lock timed out */
#define BF_E_PARTIAL 12           /**< fetch(): at least one blob failed; see its result */
#define BF_E_UNSAFE_PATH 13       /**< a destination path escapes the cache directory */

/* ------------------------------------------------------------------------ */
/* Blob descriptors and results                                              */
/* ------------------------------------------------------------------------ */

/** Per-blob states reported through progress. */
typedef int32_t bf_blob_state;
#define BF_BLOB_QUEUED 0
#define BF_BLOB_SKIPPED 1      /**< already complete in the cache */
#define BF_BLOB_WAITING_LOCK 2 /**< another process holds the directory lock */
#define BF_BLOB_DOWNLOADING 3
#define BF_BLOB_VERIFYING 4
#define BF_BLOB_DONE 5
#define BF_BLOB_FAILED 6

/**
 * One blob to fetch. All pointers are borrowed from the caller for the
 * duration of the fetch() call only; the plugin copies what it keeps.
 */
typedef struct bf_blob {
    uint32_t struct_size;   /**< sizeof(bf_blob) as the caller knows it */
    uint32_t reserved0;     /**< must be 0 */
    /** Source URL: http://, https:// or file://. Never logged with its query string. */
    const char *url;
    /** Destination relative to the cache directory, '/'-separated. Must not be
     *  absolute and must not contain ".." components. */
    const char *path;
    /** Expected size in bytes, or -1 when unknown. */
    int64_t size;
    /** Expected SHA-256 as 64 hex digits (either case), or NULL when unknown.
     *  A blob without a hash is published after a size check only. */
    const char *sha256;
    /** Extra request headers, "Name: value" lines separated by '\n', or NULL.
     *  Treated as secret: never logged or echoed in messages. */
    const char *headers;
} bf_blob;

/**
 * What happened to one blob. The caller provides an array of n results (each
 * with struct_size set); the plugin fills every one of them, also when fetch()
 * fails as a whole.
 */
typedef struct bf_blob_result {
    uint32_t struct_size;      /**< sizeof(bf_blob_result) as the caller knows it */
    bf_status status;          /**< BF_OK when the blob is now in the cache */
    int64_t bytes_downloaded;  /**< bytes received from the network for this blob */
    int64_t bytes_skipped;     /**< bytes already in the cache, not downloaded */
    /** Human-readable outcome (why it failed, or "skipped: already cached").
     *  Owned by the session; valid until the next fetch() on that session or
     *  bf_provider.session_destroy(), whichever comes first. Never NULL. */
    const char *message;
    /** Final state: BF_BLOB_SKIPPED (was already cached), BF_BLOB_DONE
     *  (downloaded and verified) or BF_BLOB_FAILED. */
    bf_blob_state state;
    uint32_t reserved0;
} bf_blob_result;

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */
/* ------------------------------------------------------------------------ */

/** Sentinel for bf_progress.blob_index: the event concerns only the totals. */
#define BF_NO_BLOB UINT32_MAX

/** A progress event. Valid only during the callback. */
typedef struct bf_progress {
    uint32_t struct_size;     /**< sizeof(bf_progress) as the plugin knows it */
    uint32_t blob_index;      /**< index into the blobs array, or BF_NO_BLOB */
    int64_t total_bytes;      /**< sum of all known blob sizes (-1 if none known) */
    int64_t done_bytes;       /**< skipped + downloaded bytes so far; never decreases */
    bf_blob_state blob_state; /**< state of blob_index (unused for BF_NO_BLOB) */
    uint32_t reserved0;
    int64_t blob_done_bytes;  /**< bytes of this blob present so far */
    int64_t blob_total_bytes; /**< this blob's size, or -1 when unknown */
    /** Short extra detail (e.g. "held by PID 1234"), or NULL. Valid only
     *  during the callback. */
    const char *detail;
} bf_progress;

/**
 * Progress callback. Called only on the thread that called fetch(), at a
 * bounded rate (about 10 times a second) plus once per blob state change and
 * once at the end. Return 0 to continue, non-zero to cancel the whole fetch:
 * transfers stop promptly, completed work is kept for the next run, and
 * fetch() returns BF_E_CANCELLED.
 */
typedef int32_t (*bf_progress_fn)(void *user, const bf_progress *progress);

/** Log levels for bf_log_fn. */
#define BF_LOG_ERROR 0
#define BF_LOG_WARN 1
#define BF_LOG_INFO 2
#define BF_LOG_DEBUG 3

/**
 * Log callback. May be called from any plugin thread, concurrently; the
 * message is valid only during the call and never contains secrets (headers,
 * URL query strings).
 */
typedef void (*bf_log_fn)(void *user, int32_t level, const char *message);

/** Callbacks for one fetch(). Borrowed for the duration of the call. */
typedef struct bf_callbacks {
    uint32_t struct_size;     /**< sizeof(bf_callbacks) as the caller knows it */
    uint32_t reserved0;
    void *user;               /**< passed back unchanged to every callback */
    bf_progress_fn progress;  /**< may be NULL */
    bf_log_fn log;            /**< may be NULL */
} bf_callbacks;

/* ------------------------------------------------------------------------ */
/* The provider table                                                        */
/* ------------------------------------------------------------------------ */

/** Opaque session: configuration plus reusable connections. */
typedef struct bf_session bf_session;

typedef struct bf_provider {
    uint32_t struct_size;       /**< sizeof(bf_provider) as the plugin knows it */
    uint32_t abi_version;       /**< the ABI version this table implements */
    /** Plugin version, e.g. "0.1.0". Static storage, never freed. */
    const char *plugin_version;

    /**
     * Creates a session from a configuration JSON object (UTF-8, NUL-
     * terminated; NULL or "" means all defaults). On success returns BF_OK and
     * sets *out_session, which the caller owns and must pass to
     * session_destroy. On failure sets *out_session to NULL and writes a
     * NUL-terminated message into error_buf (caller-owned, error_buf_size
     * bytes, truncated to fit; may be NULL when error_buf_size is 0).
     */
    bf_status (*session_create)(const char *config_json, bf_session **out_session,
                                char *error_buf, size_t error_buf_size);

    /** Destroys a session. NULL is allowed. Not while its fetch() runs. */
    void (*session_destroy)(bf_session *session);

    /**
     * Fetches n blobs into cache_dir (UTF-8 path; created when missing).
     * blobs: n borrowed descriptors. results: n caller-owned entries, each with
     * struct_size set; every entry is filled on return. callbacks may be NULL.
     * Returns BF_OK when every blob is in the cache, BF_E_PARTIAL when at least
     * one failed, BF_E_CANCELLED when the progress callback cancelled, or an
     * argument error (then every result carries that status too).
     */
    bf_status (*fetch)(bf_session *session, const char *cache_dir, const bf_blob *blobs,
                       uint32_t n, const bf_callbacks *callbacks, bf_blob_result *results);

    /**
     * Text of the last failure of fetch() on this session ("" if none). Owned
     * by the session, valid until the next fetch() or session_destroy().
     */
    const char *(*session_last_error)(bf_session *session);
} bf_provider;

/**
 * The entry point, exported as BF_ENTRY_SYMBOL. The host passes the ABI
 * version it speaks. On success returns BF_OK and sets *out_provider to a
 * static table (never freed; valid while the module stays loaded). When the
 * plugin does not serve that version it returns BF_E_UNSUPPORTED_ABI, sets
 * *out_provider to NULL and writes a message naming the versions it serves
 * into error_buf (caller-owned, error_buf_size bytes, truncated to fit).
 */
typedef bf_status (*bf_get_provider_fn)(uint32_t abi_version, const bf_provider **out_provider,
                                        char *error_buf, size_t error_buf_size);

/* Declaration of the entry point for hosts that link the module directly. */
BF_EXPORT bf_status bf_get_provider(uint32_t abi_version, const bf_provider **out_provider,
                                    char *error_buf, size_t error_buf_size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BLOBFETCH_FETCH_PROVIDER_H */
