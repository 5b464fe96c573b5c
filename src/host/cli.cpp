#include "host/cli.h"

#include <blobfetch/fetch_provider.h>

#ifndef BLOBFETCH_VERSION
#define BLOBFETCH_VERSION "0.1.0"
#endif

namespace blobfetch::host {

Cli make_cli(CommandLine &into, std::unique_ptr<CLI::App> made) {
    Cli cli;
    cli.app = made ? std::move(made) : std::make_unique<CLI::App>();
    CLI::App &app = *cli.app;
    // Options start with '-' on every platform: CLI11 also reads a word
    // starting with '/' as an option on Windows (`/path/m.json`: option
    // "path/m.json"), which would take paths for unknown options. Off before
    // the subcommands are added (they inherit it), and on each once added.
    app.allow_windows_style_options(false);
    app.description("blobfetch: fetch prebuilt binaries from a cache through the blobfetch plugin");
    app.set_version_flag("--version", "blobfetch " BLOBFETCH_VERSION " (C ABI " + std::to_string(BF_ABI_VERSION) + ")");
    app.require_subcommand(1);
    app.footer(
        "Exit codes: 0 every blob is in the cache; 1 some blobs failed; 2 bad input (command line, manifest, "
        "options); 3 the plugin could not be loaded or refused the ABI version or options; 130 cancelled.");

    FetchArgs &args = into.args;
    CLI::App *fetch = cli.fetch = app.add_subcommand("fetch", "Fetch a manifest's artifacts into its cache directory");
    fetch->add_option("manifest", args.manifest, "The manifest (JSON) to fetch")->required();
    fetch->add_option("--cache", args.cache, "Cache directory (overrides the manifest's cache_dir)");
    fetch->add_option("--plugin", args.plugin,
                      "Plugin module to load (default: $BLOBFETCH_PLUGIN, else next to this executable)");
    fetch->add_flag("--json", args.json, "Print one JSON result document on stdout");
    fetch->add_flag("-q,--quiet", args.quiet, "Only errors; no progress");
    fetch->add_flag("-v,--verbose", args.verbose, "More detail (-vv for debug logs)");
    fetch->add_flag("--no-progress", args.no_progress, "No progress output");
    fetch->add_flag("--stop-with-caller", args.stop_with_caller,
                    "Stop (keeping what was downloaded) when the calling process dies or stops reading the output; "
                    "a shell's caller counts as the caller (as x-script always does)");
    fetch->add_option("--binary-sources", args.binary_sources,
                      "vcpkg binary source string(s) (http, files, x-azblob, default, clear; ';'-separated), read "
                      "after the manifest's sources and $VCPKG_BINARY_SOURCES, as vcpkg reads them (its default "
                      "cache first unless cleared; files before http and x-azblob); sources are tried in that order");
    fetch->footer(app.get_footer());

    CLI::App *status = cli.status = app.add_subcommand("status", "List unfinished downloads in a cache: blob, percent done, "
                                                                 "remote identity, age, and who is fetching it");
    status->add_option("cache", into.cache, "The cache directory")->required();
    status->add_flag("--json", into.json, "Print one JSON document on stdout");
    CLI::App *gc = cli.gc = app.add_subcommand(
        "gc", "Remove leftovers of interrupted or abandoned downloads, and the lock files of directories with no "
              "download left (directories in use are left alone)");
    gc->add_option("cache", into.cache, "The cache directory")->required();
    gc->add_flag("--all", into.all, "Also remove unfinished downloads that could still be resumed");
    gc->add_flag("-n,--dry-run", into.dry_run, "Only say what would be removed");
    gc->add_flag("--json", into.json, "Print one JSON document on stdout");
    CLI::App *xscript = cli.xscript = app.add_subcommand(
        "x-script", "vcpkg asset caching: download URL to DST and verify its SHA-512 (exit 0 only on success). "
                    "Use as X_VCPKG_ASSET_SOURCES=\"x-script,blobfetch x-script {url} {sha512} {dst}\"");
    xscript->add_option("url", into.xs_url, "The URL to download")->required();
    xscript->add_option("sha512", into.xs_sha512, "The expected SHA-512 (128 hex digits)")->required();
    xscript->add_option("dst", into.xs_dst, "The file to write")->required();
    xscript->add_option("--plugin", args.plugin, "Plugin module to load");
    xscript->add_flag("-q,--quiet", args.quiet, "Only errors");
    xscript->add_flag("-v,--verbose", args.verbose, "More detail");
    CLI::App *verify = cli.verify = app.add_subcommand("verify", "Re-hash a manifest's blobs in the cache (exit 1 when any is "
                                                                 "missing, of the wrong size or corrupt)");
    verify->add_option("manifest", args.manifest, "The manifest (JSON)")->required();
    verify->add_option("--cache", args.cache, "Cache directory (overrides the manifest's cache_dir)");
    verify->add_flag("--json", into.json, "Print one JSON document on stdout");
    for (CLI::App *sub : app.get_subcommands({})) sub->allow_windows_style_options(false);
    return cli;
}

}  // namespace blobfetch::host
