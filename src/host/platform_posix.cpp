// POSIX side of host/platform.h.
#ifndef _WIN32
#include "host/platform.h"

#include <cerrno>
#include <atomic>
#include <csignal>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace blobfetch::host {
namespace {

std::atomic<void (*)()> g_on_interrupt{nullptr};

extern "C" void on_signal(int) {
    if (auto f = g_on_interrupt.load()) f();
}

}  // namespace

std::vector<std::string> utf8_arguments(int argc, char **argv) { return std::vector<std::string>(argv, argv + argc); }

void install_interrupt_handlers(void (*on_interrupt)()) {
    g_on_interrupt.store(on_interrupt);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

std::vector<std::string> entries_of(const DirHandle &dir) {
    std::vector<std::string> names;
    const int fd = ::fcntl(dir.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return names;
    DIR *d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        return names;
    }
    ::rewinddir(d);  // (the duplicate shares the directory's offset: a second listing starts at its end)
    while (const dirent *e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    return names;
}

// Never told by a PID: PID namespaces, containers and hosts share caches.
Owner private_owner_of(const DirHandle &dir, const std::string &name) {
    UniqueFd fd = dir.open(name, O_RDONLY | O_NONBLOCK);
    if (!fd) return errno == ENOENT ? Owner::gone : Owner::unknown;
    int r;
    do {
        r = ::flock(fd.get(), LOCK_EX | LOCK_NB);
    } while (r != 0 && errno == EINTR);
    if (r != 0) return errno == EWOULDBLOCK ? Owner::alive : Owner::unknown;
    // Held by us now; a second descriptor must not get it, or locks are not
    // enforced here and the answer means nothing.
    UniqueFd probe = dir.open(name, O_RDONLY | O_NONBLOCK);
    if (probe && ::flock(probe.get(), LOCK_EX | LOCK_NB) == 0) return Owner::unknown;
    return Owner::gone;
}

}  // namespace blobfetch::host
#endif  // !_WIN32
