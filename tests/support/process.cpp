#ifndef _WIN32  // (Windows: process_win32.cpp)
#include "support/process.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace blobfetch::test {
namespace {

// What the child of a fork needs, made before the fork: in a process with
// other threads the child may only make async-signal-safe calls until it
// execs (an allocation there can wait for ever on a lock that a thread of the
// parent held at the fork; seen under ASan: a gc thread's child spinning on
// the sanitizer's allocator lock).
class ExecArgs {
public:
    ExecArgs(const std::vector<std::string> &argv, const ProcessOptions &options) : m_argv(argv) {
        std::map<std::string, std::string> env;
        for (char **e = environ; *e; ++e) {
            std::string kv(*e);
            auto eq = kv.find('=');
            if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        for (const auto &[k, v] : options.env) {
            if (v)
                env[k] = *v;
            else
                env.erase(k);
        }
        for (const auto &[k, v] : env) m_env.push_back(k + "=" + v);
        for (const auto &a : m_argv) m_av.push_back(const_cast<char *>(a.c_str()));
        m_av.push_back(nullptr);
        for (const auto &e : m_env) m_ev.push_back(const_cast<char *>(e.c_str()));
        m_ev.push_back(nullptr);
        m_cwd = options.cwd;
    }

    // In the child: only async-signal-safe calls from here on.
    [[noreturn]] void exec(bool own_group = false) const {
        if (own_group && setpgid(0, 0) != 0) _exit(126);
        if (!m_cwd.empty() && chdir(m_cwd.c_str()) != 0) _exit(126);
        // Restore default signal dispositions the test runner may have changed.
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execvpe(m_av[0], m_av.data(), m_ev.data());
        _exit(127);
    }

private:
    std::vector<std::string> m_argv, m_env;
    std::vector<char *> m_av, m_ev;
    std::string m_cwd;
};

}  // namespace

ProcessResult run_process(const std::vector<std::string> &argv, const ProcessOptions &options) {
    int out_pipe[2], err_pipe[2], in_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC) || pipe2(in_pipe, O_CLOEXEC))
        throw std::runtime_error("pipe failed");
    const ExecArgs exec_args(argv, options);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        exec_args.exec();
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    close(in_pipe[0]);
    std::thread writer([fd = in_pipe[1], data = options.stdin_data] {
        std::size_t off = 0;
        while (off < data.size()) {
            ssize_t n = write(fd, data.data() + off, data.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
        close(fd);
    });
    ProcessResult result;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    writer.join();
    int status = 0;
    struct rusage usage {};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    result.max_rss_kib = usage.ru_maxrss;
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
    return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string> &argv, const ProcessOptions &options,
                                     const std::string &out_file, const std::string &err_file) {
    const ExecArgs exec_args(argv, options);
    int out_fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err_fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out_fd < 0 || err_fd < 0 || null_fd < 0) throw std::runtime_error("cannot open output files");
    m_pid = fork();
    if (m_pid < 0) throw std::runtime_error("fork failed");
    if (m_pid == 0) {
        dup2(null_fd, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        exec_args.exec(options.own_process_group);
    }
    // Here too, so that the group exists before the caller can signal it (the
    // child may not have run yet; once it has exec'd, this fails with EACCES,
    // and by then the child has made the group itself).
    m_own_group = options.own_process_group;
    if (m_own_group) setpgid(m_pid, m_pid);
    close(out_fd);
    close(err_fd);
    close(null_fd);
}

BackgroundProcess::~BackgroundProcess() {
    if (m_pid > 0 && !m_reaped) {
        if (m_own_group) kill(-m_pid, SIGKILL);
        kill(m_pid, SIGKILL);
        wait();
    }
}

void BackgroundProcess::signal(int sig) {
    if (m_pid > 0 && !m_reaped) kill(m_pid, sig);
}

void BackgroundProcess::signal_group(int sig) {
    if (m_pid > 0 && !m_reaped && m_own_group) kill(-m_pid, sig);
}

bool BackgroundProcess::exited() const {
    if (m_reaped) return true;
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
    return info.si_pid == m_pid;
}

int BackgroundProcess::wait() {
    if (!m_reaped) {
        while (waitpid(m_pid, &m_status, 0) < 0 && errno == EINTR) {
        }
        m_reaped = true;
    }
    return WIFEXITED(m_status) ? WEXITSTATUS(m_status) : -1;
}

bool BackgroundProcess::running() {
    if (m_reaped) return false;
    pid_t r = waitpid(m_pid, &m_status, WNOHANG);
    if (r == m_pid) {
        m_reaped = true;
        return false;
    }
    return true;
}

std::vector<ProcessEntry> list_processes() {
    std::vector<ProcessEntry> out;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        std::ifstream in(e.path() / "stat");
        std::string line;
        if (!std::getline(in, line)) continue;  // gone meanwhile
        // "pid (comm) state ppid pgrp ...": comm may hold blanks and parentheses.
        const auto open = line.find('('), close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close < open) continue;
        ProcessEntry p;
        p.pid = static_cast<pid_t>(std::atol(name.c_str()));
        p.comm = line.substr(open + 1, close - open - 1);
        std::istringstream rest(line.substr(close + 1));
        long ppid = 0, pgid = 0;
        if (!(rest >> p.state >> ppid >> pgid)) continue;
        p.ppid = static_cast<pid_t>(ppid);
        p.pgid = static_cast<pid_t>(pgid);
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<ProcessEntry> children_of(pid_t ppid, const std::string &comm) {
    std::vector<ProcessEntry> out;
    for (auto &p : list_processes())
        if (p.ppid == ppid && (comm.empty() || p.comm == comm)) out.push_back(std::move(p));
    return out;
}

ProcessWatch::ProcessWatch(pid_t pid) : m_pid(pid) {
    m_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (m_fd < 0)
        throw std::runtime_error("pidfd_open(" + std::to_string(pid) + "): " + std::strerror(errno));
}

ProcessWatch::~ProcessWatch() {
    if (m_fd >= 0) close(m_fd);
}

bool ProcessWatch::exited() const {
    pollfd p{m_fd, POLLIN, 0};  // a pidfd becomes readable when its process ends
    return poll(&p, 1, 0) > 0;
}

void ProcessWatch::signal(int sig) const {
    if (!exited()) syscall(SYS_pidfd_send_signal, m_fd, sig, nullptr, 0);
}

long number_after(const std::string &text, const std::string &key) {
    const auto at = text.find(key);
    if (at == std::string::npos) return -1;
    std::size_t i = at + key.size();
    if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
    long value = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) value = value * 10 + (text[i] - '0');
    return value;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string &path, const std::string &data) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

TempDir::TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/blobfetch-test-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    m_path = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    // Make read-only test directories removable again.
    for (auto it = std::filesystem::recursive_directory_iterator(m_path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec)) std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                                               std::filesystem::perm_options::add, ec);
    }
    std::filesystem::remove_all(m_path, ec);
}

std::string bin_dir() { return BLOBFETCH_BIN_DIR; }
std::string source_dir() { return BLOBFETCH_SOURCE_DIR; }
std::string host_binary() { return bin_dir() + "/blobfetch"; }
std::string plugin_module() { return bin_dir() + "/libblobfetch_plugin.so"; }

}  // namespace blobfetch::test
#endif  // !_WIN32
