// blobfetch: the reference host. Reads a manifest, resolves its artifacts into
// blob descriptors, loads the plugin with dlopen (Windows: LoadLibraryW) and
// calls fetch() through the C ABI only (it never links the download core or
// libcurl). The OS-specific pieces are behind host/platform.h.
//
// Exit codes:
//   0    every blob is in the cache
//   1    at least one blob failed
//   2    bad input: command line, manifest, options (nothing was written)
//   3    the plugin could not be loaded, refused the ABI version, or refused the options
//   130  cancelled (SIGINT / SIGTERM; Windows: Ctrl-C, Ctrl-Break, console close)

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <blobfetch/fetch_provider.h>

#include "base/path_safety.h"
#include "config/manifest.h"
#include "hash/sha256.h"
#include "io/file.h"
#include "host/asset_staging.h"
#include "host/cache_commands.h"
#include "host/caller_watch.h"
#include "host/cli.h"
#include "host/json_output.h"
#include "host/platform.h"
#include "host/plugin_loader.h"
#include "host/progress_display.h"

namespace {

using namespace blobfetch;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitPlugin = 3;
constexpr int kExitCancelled = 130;

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void on_interrupt() { g_interrupted.store(true); }    // (async-signal-safe: see host/platform.h)
void on_caller_gone() { g_interrupted.store(true); }  // (async-signal-safe: see host/caller_watch.h)

void install_signal_handlers() { host::install_interrupt_handlers(on_interrupt); }

using host::FetchArgs;

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
        host::print_json(std::cout, {{"status", "error"}, {"exit_code", code}, {"message", message}});
    }
    return code;
}

struct CallbackContext {
    host::ProgressDisplay *display;
    int verbosity;
    bool quiet;
};

// Progress to the display (Ctrl-C cancels through it); logs by verbosity.
bf_callbacks callbacks_for(CallbackContext &ctx) {
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
    return cb;
}

// Reads the sources: the manifest's listed "sources", then its
// "binary_sources", VCPKG_BINARY_SOURCES and each --binary-sources, read as
// vcpkg reads source strings (config::read_source_strings: its default cache
// first unless a `clear` follows, `clear` drops whatever came before it,
// files directories before http and x-azblob templates). Without any source
// string, the listed sources alone, in written order.
Expected<std::vector<config::BinarySource>> sources_for(const config::Manifest &m, const FetchArgs &args,
                                                      host::ProgressDisplay *say) {
    std::vector<config::SourceString> strings;
    if (m.binary_sources) strings.push_back({m.file.string() + ": /binary_sources", *m.binary_sources});
    if (const char *env = std::getenv("VCPKG_BINARY_SOURCES"); env && *env) strings.push_back({"VCPKG_BINARY_SOURCES", env});
    for (const auto &s : args.binary_sources) strings.push_back({"--binary-sources", s});
    std::vector<config::BinarySource> list = m.source_list;
    std::vector<std::string> warnings = m.source_warnings;
    if (!strings.empty()) {
        auto parsed = config::read_source_strings(strings, m.listed_sources);
        if (!parsed) return parsed.status();
        list = std::move(parsed->sources);
        warnings = std::move(parsed->warnings);
    }
    if (say && !args.quiet)
        for (const auto &w : warnings) say->print_line("blobfetch: warning: " + w);
    return list;
}

int run_fetch(const FetchArgs &args) {
    if (args.stop_with_caller) {
        const std::string watched = host::start_caller_watch(on_caller_gone);
        if (args.verbose) std::fprintf(stderr, "blobfetch: stops when its caller is gone: watching %s\n", watched.c_str());
    }
    auto manifest = config::load_manifest(path_from_utf8(args.manifest));
    if (!manifest) return fail_early(args, kExitBadInput, manifest.message());
    host::ProgressDisplay notes(host::ProgressDisplay::Mode::none, {}, 0);
    auto sources = sources_for(*manifest, args, &notes);
    if (!sources) return fail_early(args, kExitBadInput, sources.message());
    auto blobs = config::resolve_manifest(*manifest, {}, &*sources);
    if (!blobs) return fail_early(args, kExitBadInput, blobs.message());
    const std::string cache_dir = args.cache.empty() ? path_to_utf8(manifest->cache_dir) : args.cache;

    const std::string path = host::plugin_path(args.plugin);
    auto plugin = host::load_plugin(path);
    if (!plugin) return fail_early(args, kExitPlugin, plugin.message());
    const bf_provider &p = plugin->provider();

    const std::string options = config::to_json(manifest->provider_options).dump();
    bf_session *session = nullptr;
    char err[1024] = "";
    if (p.session_create(options.c_str(), &session, err, sizeof err) != BF_OK || !session)
        return fail_early(args, kExitPlugin, std::string("the plugin refused the options: ") + err);

    // Final outcome per blob; sources are tried one after the other: a blob
    // a source could not serve goes to the next source in the next pass.
    struct Outcome {
        bf_status status = BF_E_INTERNAL;
        bf_blob_state state = BF_BLOB_FAILED;
        std::int64_t downloaded = 0, skipped = 0;
        std::string message, source, url;
        std::vector<std::string> misses;  // "<source>: <why>" of the sources that failed
    };
    std::vector<Outcome> outcome(blobs->size());
    std::vector<std::size_t> pending(blobs->size());
    for (std::size_t i = 0; i < pending.size(); ++i) pending[i] = i;
    bf_status rc = BF_OK;
    install_signal_handlers();
    for (std::size_t pass = 0; !pending.empty() && rc != BF_E_CANCELLED; ++pass) {
        std::vector<bf_blob> descriptors(pending.size());
        std::vector<bf_blob_result> results(pending.size());
        std::vector<std::string> names;
        for (std::size_t k = 0; k < pending.size(); ++k) {
            const auto &b = (*blobs)[pending[k]];
            const auto &c = b.candidates[pass];
            bf_blob &d = descriptors[k];
            d.struct_size = sizeof(bf_blob);
            d.url = c.url.c_str();
            d.path = b.path.c_str();
            d.size = b.size;
            d.sha256 = b.sha256.empty() ? nullptr : b.sha256.c_str();
            d.headers = c.headers.empty() ? nullptr : c.headers.c_str();
            results[k].struct_size = sizeof(bf_blob_result);
            names.push_back(b.name);
        }
        using Mode = host::ProgressDisplay::Mode;
        Mode mode = (args.quiet || args.no_progress) ? Mode::none : (host::stderr_is_terminal() ? Mode::bar : Mode::lines);
        host::ProgressDisplay display(mode, names, args.verbose);
        CallbackContext ctx{&display, args.verbose, args.quiet};
        const bf_callbacks cb = callbacks_for(ctx);
        bf_status pass_rc = p.fetch(session, cache_dir.c_str(), descriptors.data(),
                                    static_cast<uint32_t>(descriptors.size()), &cb, results.data());
        display.finish();
        if (pass_rc != BF_OK && pass_rc != BF_E_PARTIAL && pass_rc != BF_E_CANCELLED)
            std::fprintf(stderr, "blobfetch: error: %s\n", p.session_last_error(session));
        if (pass_rc == BF_E_CANCELLED) rc = BF_E_CANCELLED;
        std::vector<std::size_t> next;
        for (std::size_t k = 0; k < pending.size(); ++k) {
            const std::size_t i = pending[k];
            const auto &r = results[k];
            Outcome &o = outcome[i];
            o.status = r.status;
            o.state = r.state;
            o.downloaded += r.bytes_downloaded;
            o.skipped = r.bytes_skipped;
            o.message = r.message ? r.message : "";
            o.source = (*blobs)[i].candidates[pass].source;
            o.url = (*blobs)[i].candidates[pass].url;
            if (r.status == BF_OK || r.status == BF_E_CANCELLED || pass_rc == BF_E_CANCELLED) continue;
            o.misses.push_back(o.source + ": " + o.message);
            if (pass + 1 < (*blobs)[i].candidates.size()) {
                next.push_back(i);
                const bool news = !(r.status == BF_E_NOT_FOUND && (*blobs)[i].candidates[pass].quiet_miss);
                if (!args.quiet && (news || args.verbose))
                    notes.print_line("blobfetch: warning: '" + (*blobs)[i].name + "' could not be fetched from " +
                                     o.source + " (" + status_word(r.status) + "); trying " +
                                     (*blobs)[i].candidates[pass + 1].source);
            } else if (o.misses.size() > 1) {
                std::string all;
                for (const auto &m : o.misses) all += (all.empty() ? "" : "; ") + m;
                o.message = "no source could serve it: " + all;
            }
        }
        pending = std::move(next);
    }

    std::size_t ok = 0;
    for (const auto &o : outcome) ok += o.status == BF_OK;
    if (rc != BF_E_CANCELLED) rc = ok == outcome.size() ? BF_OK : BF_E_PARTIAL;
    const int exit_code = rc == BF_OK ? kExitOk : rc == BF_E_CANCELLED ? kExitCancelled : kExitFailed;
    std::int64_t downloaded = 0, skipped = 0;
    nlohmann::json blob_docs = nlohmann::json::array();
    for (std::size_t i = 0; i < outcome.size(); ++i) {
        const auto &o = outcome[i];
        const auto &b = (*blobs)[i];
        downloaded += o.downloaded;
        skipped += o.skipped;
        std::string word = o.status != BF_OK ? status_word(o.status) : o.state == BF_BLOB_SKIPPED ? "skipped" : "ok";
        if (args.json) {
            nlohmann::json misses = nlohmann::json::array();
            for (const auto &m : o.misses) misses.push_back(m);
            blob_docs.push_back({{"name", b.name},
                                 {"path", b.path},
                                 {"url", redact_url(o.url)},
                                 {"source", o.source},
                                 {"size", b.size},
                                 {"status", word},
                                 {"status_code", o.status},
                                 {"bytes_downloaded", o.downloaded},
                                 {"bytes_skipped", o.skipped},
                                 {"sources_tried", misses},
                                 {"message", o.message}});
        } else if (o.status != BF_OK || (args.verbose && !args.quiet)) {
            std::printf("%-8s %s  %s  %s\n", o.status == BF_OK ? word.c_str() : "FAILED", b.name.c_str(),
                        b.path.c_str(), o.message.c_str());
        }
    }
    if (args.json) {
        nlohmann::json doc{
            {"status", rc == BF_OK ? "ok" : rc == BF_E_CANCELLED ? "cancelled" : "failed"},
            {"exit_code", exit_code},
            {"cache_dir", cache_dir},
            {"blobs", blob_docs},
            {"totals",
             {{"blobs", outcome.size()},
              {"ok", ok},
              {"failed", outcome.size() - ok},
              {"bytes_downloaded", downloaded},
              {"bytes_skipped", skipped}}}};
        host::print_json(std::cout, doc);
    } else if (!args.quiet) {
        std::printf("%zu of %zu blobs in %s: %s downloaded, %s already cached%s\n", ok, outcome.size(),
                    cache_dir.c_str(), host::human_bytes(downloaded).c_str(), host::human_bytes(skipped).c_str(),
                    rc == BF_E_CANCELLED ? " (cancelled: run again to resume)" : "");
    }
    p.session_destroy(session);
    return exit_code;
}

// vcpkg's asset caching: X_VCPKG_ASSET_SOURCES="x-script,blobfetch x-script
// {url} {sha512} {dst}". Downloads `url` to `dst` through the engine
// (resumable, verified against the SHA-512); exit 0 only when `dst` holds
// exactly those bytes.
int run_x_script(const FetchArgs &args, const std::string &url, const std::string &sha512, const std::string &dst) {
    if (!is_sha512_hex(sha512)) return fail_early(args, kExitBadInput, "x-script: '" + sha512.substr(0, 140) +
                                                                           "' is not a SHA-512 (128 hex digits)");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0 && url.rfind("file://", 0) != 0)
        return fail_early(args, kExitBadInput, "x-script: '" + redact_url(url) + "' is not an http, https or file URL");
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::absolute(path_from_utf8(dst), ec);
    if (ec || target.filename().empty())
        return fail_early(args, kExitBadInput, "x-script: '" + dst + "' is not a file path");
    // vcpkg may be killed alone (a CI timeout): then stop, place nothing.
    const std::string watched = host::start_caller_watch(on_caller_gone);
    if (args.verbose) std::fprintf(stderr, "blobfetch: stops when its caller is gone: watching %s\n", watched.c_str());
    const std::string path = host::plugin_path(args.plugin);
    auto plugin = host::load_plugin(path);
    if (!plugin) return fail_early(args, kExitPlugin, plugin.message());
    const bf_provider &p = plugin->provider();
    bf_session *session = nullptr;
    char err[1024] = "";
    // Provider options as JSON from $BLOBFETCH_OPTIONS (for scripted use).
    // An asset's size is never known here, so an endless body is bounded by
    // max_blob_size: x-script's default is 8 GiB (vcpkg's assets are a few
    // GiB at most), not the plugin's 1 TiB, unless the options name it.
    // Text that is no JSON object goes as it is (the plugin says what is wrong).
    const char *env_options = std::getenv("BLOBFETCH_OPTIONS");
    std::string options = env_options ? env_options : "";
    nlohmann::json parsed = options.find_first_not_of(" \t\r\n") == std::string::npos
                                ? nlohmann::json::object()
                                : nlohmann::json::parse(options, nullptr, false);
    if (parsed.is_object() && !parsed.contains("max_blob_size")) {
        parsed["max_blob_size"] = std::int64_t{8} << 30;
        options = parsed.dump();
    }
    if (p.session_create(options.c_str(), &session, err, sizeof err) != BF_OK || !session)
        return fail_early(args, kExitPlugin, std::string("the plugin refused the options: ") + err);
    const std::string lower = lower_hex(sha512);
    // Downloaded under a name keyed on the content, then placed at {dst}
    // (see host/asset_staging.h): a rerun with another {dst} resumes.
    auto staging = host::prepare_staging(target.parent_path());
    if (!staging) return fail_early(args, kExitFailed, "x-script: " + staging.message());
    const std::string cache_dir = path_to_utf8(target.parent_path());
    const std::string name = host::staged_relative_path(*staging, lower);
    bf_blob d{};
    d.struct_size = sizeof d;
    d.url = url.c_str();
    d.path = name.c_str();
    d.size = -1;
    d.sha512 = lower.c_str();
    bf_blob_result r{};
    r.struct_size = sizeof r;
    using Mode = host::ProgressDisplay::Mode;
    host::ProgressDisplay display(args.quiet ? Mode::none : host::stderr_is_terminal() ? Mode::bar : Mode::lines, {name},
                                  args.verbose);
    CallbackContext ctx{&display, args.verbose, args.quiet};
    const bf_callbacks cb = callbacks_for(ctx);
    install_signal_handlers();
    // gc stays out of the staging directory from before the fetch until the
    // asset is placed: it never removes the asset in between.
    auto hold = host::hold_staging(*staging, [] { return host::caller_gone() || g_interrupted.load(); });
    if (!hold) {
        p.session_destroy(session);
        return fail_early(args, hold.status().code() == Errc::cancelled ? kExitCancelled : kExitFailed,
                          "x-script: " + hold.message());
    }
    if (!(*hold)->enforced() && args.verbose)
        std::fprintf(stderr, "blobfetch: x-script: gc cannot be kept out of '%s' meanwhile: %s\n",
                     path_to_utf8(staging->parent->show(staging->name)).c_str(), (*hold)->why_not_enforced().c_str());
    bf_status rc = BF_OK;
    for (int pass = 0; pass < 3; ++pass) {
        rc = p.fetch(session, cache_dir.c_str(), &d, 1, &cb, &r);
        display.finish();
        if (rc != BF_OK && !host::caller_gone())
            std::fprintf(stderr, "blobfetch: x-script: %s\n", r.message ? r.message : p.session_last_error(session));
        if (host::caller_gone()) {
            // Nobody would rename or remove {dst}: nothing is placed there;
            // the staged download stays for the next run to resume or place.
            std::fprintf(stderr, "blobfetch: x-script: the caller is gone: nothing placed at '%s'; what was "
                                 "downloaded is kept for the next run\n", target.string().c_str());
            p.session_destroy(session);
            return kExitCancelled;
        }
        if (rc != BF_OK) break;
        Status s = host::place_staged(*staging, lower, target.filename().string(), [] { return host::caller_gone(); });
        if (s.ok() && host::caller_gone()) {
            // Gone while the rename happened: nobody will rename or remove it.
            (void)staging->parent->unlink(target.filename().string());
            s = Status(Errc::cancelled, "the caller is gone: nothing left at '" + target.string() + "'");
        }
        if (s.ok()) break;
        if (s.code() == Errc::cancelled) {
            std::fprintf(stderr, "blobfetch: x-script: %s; what was downloaded is kept for the next run\n",
                         s.message().c_str());
            p.session_destroy(session);
            return kExitCancelled;
        }
        // Removed meanwhile (by another x-script that found it altered, or
        // by gc where locks do nothing), or altered itself and removed just
        // now: fetch it again.
        if ((s.code() == Errc::not_found || s.code() == Errc::verify) && pass < 2) {
            if (s.code() == Errc::verify && !args.quiet)
                std::fprintf(stderr, "blobfetch: x-script: warning: %s; fetching it again\n", s.message().c_str());
            continue;
        }
        std::fprintf(stderr, "blobfetch: x-script: %s\n", s.message().c_str());
        p.session_destroy(session);
        return kExitFailed;
    }
    p.session_destroy(session);
    return rc == BF_OK ? kExitOk : rc == BF_E_CANCELLED ? kExitCancelled : kExitFailed;
}

}  // namespace

int main(int argc, char **argv) {
    host::CommandLine line;
    host::Cli cli = host::make_cli(line);
    CLI::App &app = *cli.app;

    // UTF-8 arguments on every platform (Windows: from the UTF-16 command line).
    std::vector<std::string> utf8_args = host::utf8_arguments(argc, argv);
    std::vector<char *> utf8_argv;
    for (auto &a : utf8_args) utf8_argv.push_back(a.data());
    try {
        app.parse(static_cast<int>(utf8_argv.size()), utf8_argv.data());
    } catch (const CLI::ParseError &e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kExitBadInput;
    }
    try {
        if (cli.status->parsed()) return host::run_status(line.cache, line.json, std::cout);
        if (cli.gc->parsed()) return host::run_gc(line.cache, line.all, line.dry_run, line.json, std::cout);
        if (cli.verify->parsed()) return host::run_verify(line.args.manifest, line.args.cache, line.json, std::cout);
        if (cli.xscript->parsed()) return run_x_script(line.args, line.xs_url, line.xs_sha512, line.xs_dst);
        return run_fetch(line.args);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "blobfetch: internal error: %s\n", e.what());
        return kExitFailed;
    }
}
