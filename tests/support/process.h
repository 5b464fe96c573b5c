#pragma once
// Running real child processes from tests.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace blobfetch::test {

struct ProcessResult {
    int exit_code = -1;    // exit status, or -1 when killed by a signal
    int term_signal = 0;   // the signal that ended it, or 0
    std::string out;       // everything written to stdout
    std::string err;       // everything written to stderr
    long max_rss_kib = 0;  // the child's peak resident set size (getrusage ru_maxrss)
};

struct ProcessOptions {
    // Extra/overridden environment variables; a nullopt value removes one.
    std::map<std::string, std::optional<std::string>> env;
    std::string cwd;        // empty: inherit
    std::string stdin_data; // written to the child's stdin, then closed
};

// Runs argv[0] (a path, or a name looked up in PATH) to completion and
// captures its output. Never throws on a non-zero exit.
ProcessResult run_process(const std::vector<std::string> &argv, const ProcessOptions &options = {});

// A child started in the background with stdout/stderr sent to files.
class BackgroundProcess {
public:
    BackgroundProcess(const std::vector<std::string> &argv, const ProcessOptions &options,
                      const std::string &out_file, const std::string &err_file);
    ~BackgroundProcess();  // kills (SIGKILL) and reaps if still running
    BackgroundProcess(const BackgroundProcess &) = delete;
    BackgroundProcess &operator=(const BackgroundProcess &) = delete;

    pid_t pid() const { return m_pid; }
    void signal(int sig);
    // Waits for exit; returns the exit code, or -1 when killed by a signal.
    int wait();
    bool running();

private:
    pid_t m_pid = -1;
    bool m_reaped = false;
    int m_status = 0;
};

std::string read_file(const std::string &path);
// The decimal number right after the first `key` in `text` ("syncs=" in
// "pid=1 syncs=8"), or -1 when there is none. (No std::regex: GCC 12 warns
// falsely in its headers under ASan.)
long number_after(const std::string &text, const std::string &key);
void write_file(const std::string &path, const std::string &data);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return m_path; }
    std::string operator/(const std::string &rel) const { return m_path + "/" + rel; }

private:
    std::string m_path;
};

// Paths of built artifacts (set by CMake).
std::string bin_dir();      // the build's bin/ (host, plugin, tools)
std::string source_dir();   // the repository root
std::string host_binary();  // bin/blobfetch
std::string plugin_module(); // bin/libblobfetch_plugin.so

}  // namespace blobfetch::test
