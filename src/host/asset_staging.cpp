#include "host/asset_staging.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "io/file.h"

namespace blobfetch::host {
namespace {

namespace fs = std::filesystem;

// A name beside `dst` for a link or copy that is renamed over it.
fs::path temporary_beside(const fs::path &dst, const char *what) {
    fs::path p = dst;
    p += std::string(".") + what + "-" + std::to_string(::getpid());
    return p;
}

Status copy_file_durably(const fs::path &from, const fs::path &to) {
    UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!in) return Status(Errc::io, "cannot open '" + from.string() + "': " + std::strerror(errno));
    UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!out) return Status(Errc::io, "cannot create '" + to.string() + "': " + std::strerror(errno));
    std::vector<char> buf(1 << 20);
    std::int64_t offset = 0;
    for (;;) {
        const ssize_t n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status(Errc::io, "cannot read '" + from.string() + "': " + std::strerror(errno));
        if (n == 0) break;
        if (Status s = write_all_at(out.get(), buf.data(), static_cast<std::size_t>(n), offset, to.string()); !s.ok())
            return s;
        offset += n;
    }
    return sync_data(out.get(), to.string());
}

}  // namespace

std::string staged_relative_path(const std::string &sha512_hex) { return std::string(kStagingDir) + "/" + sha512_hex; }

Status place_staged(const fs::path &staged, const fs::path &dst) {
    const fs::path link_name = temporary_beside(dst, "bf-link");
    ::unlink(link_name.c_str());
    if (::link(staged.c_str(), link_name.c_str()) == 0) {
        if (::rename(link_name.c_str(), dst.c_str()) == 0) return Status::success();
        const int e = errno;
        ::unlink(link_name.c_str());
        return Status(Errc::io, "cannot rename '" + link_name.string() + "' to '" + dst.string() + "': " +
                                    std::strerror(e));
    }
    const int e = errno;
    if (e != EXDEV && e != EPERM && e != EMLINK && e != ENOTSUP && e != EOPNOTSUPP)
        return Status(Errc::io, "cannot link '" + staged.string() + "' to '" + link_name.string() + "': " +
                                    std::strerror(e));
    // No hard links here: a copy, renamed into place once complete.
    const fs::path copy_name = temporary_beside(dst, "bf-copy");
    if (Status s = copy_file_durably(staged, copy_name); !s.ok()) {
        ::unlink(copy_name.c_str());
        return s;
    }
    if (::rename(copy_name.c_str(), dst.c_str()) != 0) {
        const int re = errno;
        ::unlink(copy_name.c_str());
        return Status(Errc::io, "cannot rename '" + copy_name.string() + "' to '" + dst.string() + "': " +
                                    std::strerror(re));
    }
    return Status::success();
}

}  // namespace blobfetch::host
