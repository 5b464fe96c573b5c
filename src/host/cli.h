#pragma once
// The host's command line: its subcommands, options and flags, built apart
// from main() so that unit tests parse it as the program does
// (tests/unit/host/cli_test.cpp).

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace blobfetch::host {

// What `fetch`, `x-script` and `verify` read.
struct FetchArgs {
    std::string manifest;
    std::string cache;
    std::string plugin;
    bool json = false;
    bool quiet = false;
    bool no_progress = false;
    int verbose = 0;
    bool stop_with_caller = false;  // fetch --stop-with-caller (x-script always)
    std::vector<std::string> binary_sources;  // vcpkg source strings, after the manifest's and the environment's
};

// Everything the command line sets.
struct CommandLine {
    FetchArgs args;
    std::string cache;  // status, gc
    bool json = false;  // status, gc, verify
    bool all = false, dry_run = false;  // gc
    std::string xs_url, xs_sha512, xs_dst;  // x-script
};

// The parser and its subcommands (which one ran: CLI::App::parsed()).
struct Cli {
    std::unique_ptr<CLI::App> app;
    CLI::App *fetch = nullptr, *status = nullptr, *gc = nullptr, *xscript = nullptr, *verify = nullptr;
};

// Builds the command line into `app` (null: a new CLI::App; a test passes one
// made as CLI11 makes it on another platform), binding the values to `into`,
// which must outlive the result.
Cli make_cli(CommandLine &into, std::unique_ptr<CLI::App> app = nullptr);

}  // namespace blobfetch::host
