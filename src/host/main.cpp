// blobfetch: the reference host. Reads a manifest, resolves its artifacts into
// blob descriptors, loads the plugin with dlopen and calls fetch() through the
// C ABI only (it never links the download core or libcurl).
//
// Exit codes:
//   0    every blob is in the cache
//   1    at least one blob failed
//   2    bad input: command line, manifest, options (nothing was written)
//   3    the plugin could not be loaded, refused the ABI version, or refused the options
//   130  cancelled (SIGINT / SIGTERM)

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <blobfetch/fetch_provider.h>

#include "base/path_safety.h"
#include "config/manifest.h"
#include "host/plugin_loader.h"
#include "host/progress_display.h"

#ifndef BLOBFETCH_VERSION
#define BLOBFETCH_VERSION "0.1.0"
#endif

namespace {

using namespace blobfetch;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitPlugin = 3;
constexpr int kExitCancelled = 130;

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_signal(int) { g_interrupted.store(true); }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

struct FetchArgs {
    std::string manifest;
    std::string cache;
    std::string plugin;
    bool json = false;
    bool quiet = false;
    bool no_progress = false;
    int verbose = 0;
};

const char *status_word(bf_status s) {
    switch (s) {
        case BF_OK: return "ok";
        case BF_E_CANCELLED: return "cancelled";
        case BF_E_NOT_FOUND: return "not found";
        default: return "failed";
    }
}

// Prints an error that stops the run before fetch(); with --json, also the document.
int fail_early(const FetchArgs &args, int code, const std::string &message) {
    std::fprintf(stderr, "blobfetch: error: %s\n", message.c_str());
    if (args.json) {
        nlohmann::json doc{{"status", "error"}, {"exit_code", code}, {"message", message}};
        std::cout << doc.dump(2) << std::endl;
    }
    return code;
}

struct CallbackContext {
    host::ProgressDisplay *display;
    int verbosity;
    bool quiet;
};

int run_fetch(const FetchArgs &args) {
    auto manifest = config::load_manifest(args.manifest);
    if (!manifest) return fail_early(args, kExitBadInput, manifest.message());
    auto blobs = config::resolve_manifest(*manifest);
    if (!blobs) return fail_early(args, kExitBadInput, blobs.message());
    const std::string cache_dir = args.cache.empty() ? manifest->cache_dir.string() : args.cache;

    const std::string path = host::plugin_path(args.plugin);
    auto plugin = host::load_plugin(path);
    if (!plugin) return fail_early(args, kExitPlugin, plugin.message());
    const bf_provider &p = plugin->provider();

    const std::string options = config::to_json(manifest->provider_options).dump();
    bf_session *session = nullptr;
    char err[1024] = "";
    if (p.session_create(options.c_str(), &session, err, sizeof err) != BF_OK || !session)
        return fail_early(args, kExitPlugin, std::string("the plugin refused the options: ") + err);

    std::vector<bf_blob> descriptors(blobs->size());
    std::vector<bf_blob_result> results(blobs->size());
    std::vector<std::string> names;
    for (std::size_t i = 0; i < blobs->size(); ++i) {
        const auto &b = (*blobs)[i];
        bf_blob &d = descriptors[i];
        d.struct_size = sizeof(bf_blob);
        d.url = b.url.c_str();
        d.path = b.path.c_str();
        d.size = b.size;
        d.sha256 = b.sha256.empty() ? nullptr : b.sha256.c_str();
        d.headers = b.headers.empty() ? nullptr : b.headers.c_str();
        results[i].struct_size = sizeof(bf_blob_result);
        names.push_back(b.name);
    }

    using Mode = host::ProgressDisplay::Mode;
    Mode mode = (args.quiet || args.no_progress) ? Mode::none : (isatty(STDERR_FILENO) ? Mode::bar : Mode::lines);
    host::ProgressDisplay display(mode, names, args.verbose);
    CallbackContext ctx{&display, args.verbose, args.quiet};
    bf_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.user = &ctx;
    cb.progress = [](void *user, const bf_progress *pr) -> int32_t {
        static_cast<CallbackContext *>(user)->display->on_progress(*pr);
        return g_interrupted.load() ? 1 : 0;
    };
    cb.log = [](void *user, int32_t level, const char *message) {
        auto *c = static_cast<CallbackContext *>(user);
        int allowed = c->quiet ? BF_LOG_ERROR : BF_LOG_WARN + c->verbosity;
        if (level > allowed) return;
        static const char *names[] = {"error", "warning", "info", "debug"};
        c->display->print_line(std::string("blobfetch: ") + names[level >= 0 && level <= 3 ? level : 3] + ": " +
                               message);
    };

    install_signal_handlers();
    bf_status rc = p.fetch(session, cache_dir.c_str(), descriptors.data(), static_cast<uint32_t>(descriptors.size()),
                           &cb, results.data());
    display.finish();

    int exit_code = rc == BF_OK ? kExitOk : rc == BF_E_CANCELLED ? kExitCancelled : kExitFailed;
    std::int64_t downloaded = 0, skipped = 0;
    std::size_t ok = 0;
    nlohmann::json blob_docs = nlohmann::json::array();
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto &r = results[i];
        const auto &b = (*blobs)[i];
        downloaded += r.bytes_downloaded;
        skipped += r.bytes_skipped;
        ok += r.status == BF_OK;
        std::string word = r.status != BF_OK ? status_word(r.status) : r.state == BF_BLOB_SKIPPED ? "skipped" : "ok";
        if (args.json) {
            blob_docs.push_back({{"name", b.name},
                                 {"path", b.path},
                                 {"url", redact_url(b.url)},
                                 {"size", b.size},
                                 {"status", word},
                                 {"status_code", r.status},
                                 {"bytes_downloaded", r.bytes_downloaded},
                                 {"bytes_skipped", r.bytes_skipped},
                                 {"message", r.message ? r.message : ""}});
        } else if (r.status != BF_OK || (args.verbose && !args.quiet)) {
            std::printf("%-8s %s  %s  %s\n", r.status == BF_OK ? word.c_str() : "FAILED", b.name.c_str(),
                        b.path.c_str(), r.message ? r.message : "");
        }
    }
    if (args.json) {
        nlohmann::json doc{
            {"status", rc == BF_OK ? "ok" : rc == BF_E_CANCELLED ? "cancelled" : "failed"},
            {"exit_code", exit_code},
            {"cache_dir", cache_dir},
            {"blobs", blob_docs},
            {"totals",
             {{"blobs", results.size()},
              {"ok", ok},
              {"failed", results.size() - ok},
              {"bytes_downloaded", downloaded},
              {"bytes_skipped", skipped}}}};
        std::cout << doc.dump(2) << std::endl;
    } else if (!args.quiet) {
        std::printf("%zu of %zu blobs in %s: %s downloaded, %s already cached%s\n", ok, results.size(),
                    cache_dir.c_str(), host::human_bytes(downloaded).c_str(), host::human_bytes(skipped).c_str(),
                    rc == BF_E_CANCELLED ? " (cancelled: run again to resume)" : "");
    }
    if (rc != BF_OK && rc != BF_E_PARTIAL && rc != BF_E_CANCELLED)
        std::fprintf(stderr, "blobfetch: error: %s\n", p.session_last_error(session));
    p.session_destroy(session);
    return exit_code;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"blobfetch: fetch prebuilt binaries from a cache through the blobfetch plugin"};
    app.set_version_flag("--version", "blobfetch " BLOBFETCH_VERSION " (C ABI " + std::to_string(BF_ABI_VERSION) + ")");
    app.require_subcommand(1);
    app.footer(
        "Exit codes: 0 every blob is in the cache; 1 some blobs failed; 2 bad input (command line, manifest, "
        "options); 3 the plugin could not be loaded or refused the ABI version or options; 130 cancelled.");

    FetchArgs args;
    CLI::App *fetch = app.add_subcommand("fetch", "Fetch a manifest's artifacts into its cache directory");
    fetch->add_option("manifest", args.manifest, "The manifest (JSON) to fetch")->required();
    fetch->add_option("--cache", args.cache, "Cache directory (overrides the manifest's cache_dir)");
    fetch->add_option("--plugin", args.plugin,
                      "Plugin module to load (default: $BLOBFETCH_PLUGIN, else next to this executable)");
    fetch->add_flag("--json", args.json, "Print one JSON result document on stdout");
    fetch->add_flag("-q,--quiet", args.quiet, "Only errors; no progress");
    fetch->add_flag("-v,--verbose", args.verbose, "More detail (-vv for debug logs)");
    fetch->add_flag("--no-progress", args.no_progress, "No progress output");
    fetch->footer(app.get_footer());

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kExitBadInput;
    }
    try {
        return run_fetch(args);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "blobfetch: internal error: %s\n", e.what());
        return kExitFailed;
    }
}
