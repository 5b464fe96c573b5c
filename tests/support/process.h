#pragma once
// Running real child processes from tests.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#ifdef _WIN32
// Windows (process_win32.cpp): read_file, write_file, TempDir, the paths of
// built artifacts and BackgroundProcess (CreateProcessW; signal(SIGKILL) is
// TerminateProcess, as abrupt as a kill -9); the rest is POSIX-only.
#include <csignal>
#ifndef SIGKILL
#define SIGKILL 9
#endif
#endif

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
    // BackgroundProcess only: the child leads a new process group (its pgid is
    // its pid), so that signal_group() reaches it and every process it starts
    // that stays in the group (e.g. a `sh -c` and what that runs), even after
    // they were orphaned; the destructor then kills the whole group.
    bool own_process_group = false;
};

// Runs argv[0] (a path, or a name looked up in PATH) to completion and
// captures its output. Never throws on a non-zero exit.
ProcessResult run_process(const std::vector<std::string> &argv, const ProcessOptions &options = {});

// A child started in the background with stdout/stderr sent to files.
class BackgroundProcess {
public:
    BackgroundProcess(const std::vector<std::string> &argv, const ProcessOptions &options,
                      const std::string &out_file, const std::string &err_file);
    // Kills (SIGKILL) and reaps if still running; with own_process_group,
    // first kills its whole group (unless it was reaped already).
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess &) = delete;
    BackgroundProcess &operator=(const BackgroundProcess &) = delete;

    pid_t pid() const { return m_pid; }
    void signal(int sig);
    // Sends `sig` to the child's process group (own_process_group only; a
    // no-op once the child was reaped: until then its pid cannot be reused,
    // so the group id names only this group).
    void signal_group(int sig);
    // Waits for exit; returns the exit code, or -1 when killed by a signal.
    int wait();
    bool running();
    // True once the child has ended, without reaping it (waitid WNOWAIT): it
    // stays a zombie, so signal_group() still reaches what is left of its
    // group, until wait() or running() reaps it.
    bool exited() const;

private:
    pid_t m_pid = -1;
    bool m_own_group = false;
    bool m_reaped = false;
    int m_status = 0;
};

// One line of /proc/<pid>/stat, for finding processes that are not our
// children (e.g. what a child started through `sh -c`).
struct ProcessEntry {
    pid_t pid = 0, ppid = 0, pgid = 0;
    char state = '?';   // R, S, D, Z, ...
    std::string comm;   // the executable's name as the kernel shows it (at most 15 bytes)
};
// Every process /proc shows now (those that vanish during the scan are left out).
std::vector<ProcessEntry> list_processes();
// The processes whose parent is `ppid`, optionally only those named `comm`.
std::vector<ProcessEntry> children_of(pid_t ppid, const std::string &comm = "");

// A process that need not be our child, held through a pidfd (Linux 5.3+):
// the handle stays bound to that process, so a reused pid is never taken for
// it and a signal never reaches another process.
class ProcessWatch {
public:
    // Throws std::runtime_error when `pid` does not exist (any more).
    explicit ProcessWatch(pid_t pid);
    ~ProcessWatch();
    ProcessWatch(const ProcessWatch &) = delete;
    ProcessWatch &operator=(const ProcessWatch &) = delete;

    pid_t pid() const { return m_pid; }
    // True once the process has ended (a zombie nobody reaped counts as ended).
    bool exited() const;
    // Sends `sig` (a no-op once it has ended).
    void signal(int sig) const;

private:
    pid_t m_pid = -1;
    int m_fd = -1;
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
