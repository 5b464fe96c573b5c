// The host's command line (host/cli.h), parsed as the program parses it.
#include "host/cli.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace blobfetch::host {
namespace {

// Parses `args` (after the program's name) with the host's command line built
// into `app`; the CLI11 error's text when it throws, else "".
std::string parse(Cli &cli, std::vector<std::string> args) {
    args.insert(args.begin(), "blobfetch");
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    try {
        cli.app->parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError &e) {
        return e.what();
    }
    return "";
}

// A CLI::App as CLI11 makes it on Windows, wherever the test runs: there a
// word starting with '/' is an option unless the program turns that off.
std::unique_ptr<CLI::App> app_as_on_windows() {
    auto app = std::make_unique<CLI::App>();
    app->allow_windows_style_options(true);
    return app;
}

// A path that starts with '/' (a POSIX path, or a Windows one written with
// forward slashes, as MSYS and CMake write them) is the manifest, the cache
// or x-script's {dst}, never an option. (On Windows `blobfetch fetch
// /path/m.json` said "manifest is required".)
TEST(Cli, PathStartingWithSlash_IsAnArgumentNotAnOption_EvenWhereCli11TakesWindowsStyleOptions) {
    {
        CommandLine line;
        Cli cli = make_cli(line, app_as_on_windows());
        EXPECT_EQ(parse(cli, {"fetch", "/path/m.json", "--cache", "/c/cache"}), "");
        EXPECT_TRUE(cli.fetch->parsed());
        EXPECT_EQ(line.args.manifest, "/path/m.json");
        EXPECT_EQ(line.args.cache, "/c/cache");
    }
    {
        CommandLine line;
        Cli cli = make_cli(line, app_as_on_windows());
        EXPECT_EQ(parse(cli, {"gc", "/var/cache/blobfetch", "--all"}), "");
        EXPECT_EQ(line.cache, "/var/cache/blobfetch");
        EXPECT_TRUE(line.all);
    }
    {
        CommandLine line;
        Cli cli = make_cli(line, app_as_on_windows());
        EXPECT_EQ(parse(cli, {"x-script", "https://h/a.zip", std::string(128, 'a'), "/d/downloads/a.zip.1.part"}), "");
        EXPECT_EQ(line.xs_dst, "/d/downloads/a.zip.1.part");
    }
    {
        CommandLine line;
        Cli cli = make_cli(line, app_as_on_windows());
        EXPECT_EQ(parse(cli, {"status", "/json"}), "") << "a directory named like a flag is still a directory";
        EXPECT_EQ(line.cache, "/json");
        EXPECT_FALSE(line.json);
    }
}

TEST(Cli, OptionsAndFlags_AreParsed) {
    CommandLine line;
    Cli cli = make_cli(line);
    EXPECT_EQ(parse(cli, {"fetch", "m.json", "--json", "-vv", "--binary-sources", "clear", "--plugin", "p.so"}), "");
    EXPECT_EQ(line.args.manifest, "m.json");
    EXPECT_TRUE(line.args.json);
    EXPECT_EQ(line.args.verbose, 2);
    EXPECT_EQ(line.args.binary_sources, std::vector<std::string>{"clear"});
    EXPECT_EQ(line.args.plugin, "p.so");
    CommandLine none;
    Cli bare = make_cli(none);
    EXPECT_NE(parse(bare, {"fetch"}), "") << "the manifest is required";
}

}  // namespace
}  // namespace blobfetch::host
