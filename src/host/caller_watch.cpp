// POSIX; the Windows side is caller_watch_win32.cpp.
#ifndef _WIN32
#include "host/caller_watch.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <poll.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

namespace blobfetch::host {
namespace {

std::atomic<bool> g_gone{false};
std::atomic<void (*)()> g_on_gone{nullptr};

void gone() {
    if (g_gone.exchange(true)) return;
    if (auto f = g_on_gone.load()) f();
}

std::atomic<pid_t> g_parent{0};

// PR_SET_PDEATHSIG fires when the *thread* that started this process exits,
// which need not be the process: only a changed parent counts.
extern "C" void on_parent_death(int) {
    if (::getppid() != g_parent.load()) gone();
}

#ifdef __linux__
// The command name and parent pid of `pid` from /proc/<pid>/stat; false when
// it is gone or unreadable. (The name is between the first '(' and the last
// ')': it may hold blanks and parentheses.)
bool proc_stat(pid_t pid, std::string &comm, pid_t &ppid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) return false;
    comm = text.substr(open + 1, close - open - 1);
    std::istringstream rest(text.substr(close + 1));
    char state = 0;
    long parent = 0;
    if (!(rest >> state >> parent)) return false;
    ppid = static_cast<pid_t>(parent);
    return true;
}

bool is_shell(const std::string &comm) {
    for (const char *s : {"sh", "dash", "bash", "ash", "zsh", "ksh", "mksh", "busybox"})
        if (comm == s) return true;
    return false;
}
#endif

}  // namespace

bool caller_gone() { return g_gone.load(); }

void note_caller_gone() { gone(); }

std::string start_caller_watch(void (*on_gone)()) {
    g_on_gone.store(on_gone);
    std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is an EPIPE, seen by the writers
    const pid_t parent = ::getppid();
    g_parent.store(parent);
#ifdef __linux__
    struct sigaction sa {};
    sa.sa_handler = on_parent_death;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, nullptr);
    (void)::prctl(PR_SET_PDEATHSIG, SIGUSR2);
    if (parent == 1) {
        // Started by init itself (a container's entrypoint, systemd): no
        // caller to outlive; only a broken output pipe counts.
        return "no caller (the parent is init)";
    }
    if (::getppid() != parent) {
        gone();  // the parent died while the watch was set
        return "parent (gone already)";
    }
    std::string comm;
    pid_t caller = 0;
    if (!proc_stat(parent, comm, caller) || !is_shell(comm) || caller <= 1) {
        // (Also looked at every 100 ms: the signal may have fired for a thread.)
        std::thread([parent] {
            while (::getppid() == parent) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            gone();
        }).detach();
        return "parent " + std::to_string(parent) + (comm.empty() ? "" : " (" + comm + ")");
    }
    // The shell's parent is the caller. A pidfd names that very process (a
    // pid may be reused); it was opened right, if the shell's parent is still
    // the same afterwards.
    int pidfd = -1;
#ifdef SYS_pidfd_open
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, caller, 0));
#endif
    std::string again;
    pid_t now_parent = 0;
    if (!proc_stat(parent, again, now_parent) || now_parent != caller) {
        if (pidfd >= 0) ::close(pidfd);
        gone();
        return "caller (gone already)";
    }
    std::thread([pidfd, parent, caller] {
        for (;;) {
            if (::getppid() != parent) break;
            if (pidfd >= 0) {
                pollfd p{pidfd, POLLIN, 0};
                const int r = ::poll(&p, 1, 100);  // readable: the caller exited
                if (r > 0) break;
                if (r < 0 && errno != EINTR) break;
            } else {
                // No pidfd_open (Linux < 5.3): whether the shell was re-parented.
                std::string c;
                pid_t pp = 0;
                if (!proc_stat(parent, c, pp) || pp != caller) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        if (pidfd >= 0) ::close(pidfd);
        gone();
    }).detach();
    return "parent " + std::to_string(parent) + " (" + comm + ") and caller " + std::to_string(caller);
#else
    std::thread([parent] {
        while (::getppid() == parent) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        gone();
    }).detach();
    return "parent " + std::to_string(parent);
#endif
}

}  // namespace blobfetch::host
#endif  // !_WIN32
