// The LD_PRELOAD shims of tests/support/tools/ on real programs: dd (coreutils;
// write, fsync/fdatasync), python3 (pwrite64, fsync, fcntl64) and flock
// (util-linux; flock). blobfetch_fail_sync fails the N-th sync with EIO and
// zeroes what was written since the file's last good sync; blobfetch_count_locks
// counts lock calls. Each logs what it saw to a file named in the environment.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "support/process.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

using Fields = std::map<std::string, std::string>;

// The log's lines as key=value maps ("path=" runs to the end of its line).
std::vector<Fields> read_log(const std::string &path) {
    std::vector<Fields> lines;
    if (!fs::exists(path)) return lines;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);) {
        Fields f;
        std::size_t pos = 0;
        while (pos < line.size()) {
            const std::size_t eq = line.find('=', pos);
            if (eq == std::string::npos) break;
            const std::string key = line.substr(pos, eq - pos);
            std::size_t end = key == "path" ? std::string::npos : line.find(' ', eq);
            if (end == std::string::npos) end = line.size();
            f[key] = line.substr(eq + 1, end - eq - 1);
            pos = end + 1;
        }
        lines.push_back(std::move(f));
    }
    return lines;
}

// The lines that have `key`.
std::vector<Fields> with_key(const std::vector<Fields> &lines, const std::string &key) {
    std::vector<Fields> out;
    for (const auto &l : lines)
        if (l.count(key)) out.push_back(l);
    return out;
}

long number(const Fields &f, const std::string &key) {
    auto it = f.find(key);
    return it == f.end() ? -1 : std::strtol(it->second.c_str(), nullptr, 10);
}

// An executable named `name` in PATH, or "".
std::string find_program(const std::string &name) {
    const char *path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (dir.empty()) continue;
        const fs::path p = fs::path(dir) / name;
        if (::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p)) return p.string();
    }
    return "";
}

std::string shim(const std::string &name) { return bin_dir() + "/lib" + name + ".so"; }

class PreloadShims : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char *lib : {"blobfetch_fail_sync", "blobfetch_count_locks"})
            ASSERT_TRUE(fs::exists(shim(lib))) << shim(lib) << " is not built";
    }

    void need_dd() {
        m_dd = find_program("dd");
        if (m_dd.empty()) GTEST_SKIP() << "dd (coreutils) is not installed";
    }

    // The interpreter itself: python3 in PATH may be a wrapper script (pyenv)
    // whose own processes would run under the shim and log lines too.
    void need_python() {
        const std::string py = find_program("python3");
        if (py.empty()) GTEST_SKIP() << "python3 is not installed";
        auto r = run_process({py, "-c", "import sys; print(sys.executable)"});
        if (r.exit_code != 0 || r.out.size() < 2) GTEST_SKIP() << "python3 does not run: " << r.err;
        m_python = r.out.substr(0, r.out.find('\n'));
    }

    ProcessOptions fail_sync(std::optional<int> n) {
        ProcessOptions po;
        po.env["LD_PRELOAD"] = shim("blobfetch_fail_sync");
        po.env["BLOBFETCH_SYNC_LOG"] = m_log;
        if (n)
            po.env["BLOBFETCH_FAIL_SYNC_N"] = std::to_string(*n);
        else
            po.env["BLOBFETCH_FAIL_SYNC_N"] = std::nullopt;
        return po;
    }

    ProcessOptions count_locks() {
        ProcessOptions po;
        po.env["LD_PRELOAD"] = shim("blobfetch_count_locks");
        po.env["BLOBFETCH_LOCK_LOG"] = m_log;
        return po;
    }

    ProcessResult dd(const std::string &conv, const ProcessOptions &po) {
        write_file(m_in, std::string(16 << 10, 'a'));
        return run_process({m_dd, "if=" + m_in, "of=" + m_out, "bs=4096", "conv=" + conv}, po);
    }

    TempDir m_dir;
    std::string m_in = m_dir / "in", m_out = m_dir / "out", m_log = m_dir / "sync.log";
    std::string m_dd, m_python;
};

TEST_F(PreloadShims, FailSync_FirstSyncFails_DdReportsEioAndItsOutputReadsBackAsZeros) {
    need_dd();
    if (IsSkipped()) return;
    auto r = dd("fsync", fail_sync(1));
    EXPECT_NE(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("Input/output error"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(m_out), std::string(16 << 10, '\0')) << "the dropped pages: zeros, the size kept";

    const auto log = read_log(m_log);
    const auto failed = with_key(log, "failed_sync");
    ASSERT_EQ(failed.size(), 1u) << read_file(m_log);
    EXPECT_EQ(number(failed[0], "failed_sync"), 1);
    EXPECT_EQ(failed[0].at("fd_kind"), "file");
    EXPECT_EQ(failed[0].at("path"), fs::canonical(m_out).string());
    const auto exits = with_key(log, "syncs");
    ASSERT_EQ(exits.size(), 1u) << read_file(m_log);
    EXPECT_EQ(number(exits[0], "syncs"), 1);
    EXPECT_EQ(number(exits[0], "failed"), 1);
    EXPECT_EQ(exits[0].at("pid"), failed[0].at("pid"));
}

TEST_F(PreloadShims, FailSync_NBeyondTheLastSync_DdSucceedsAndItsOutputIsIntact) {
    need_dd();
    if (IsSkipped()) return;
    auto r = dd("fsync", fail_sync(2));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(m_out), std::string(16 << 10, 'a'));
    const auto log = read_log(m_log);
    EXPECT_TRUE(with_key(log, "failed_sync").empty()) << read_file(m_log);
    const auto exits = with_key(log, "syncs");
    ASSERT_EQ(exits.size(), 1u) << read_file(m_log);
    EXPECT_EQ(number(exits[0], "syncs"), 1) << "dd conv=fsync syncs once, at the end";
    EXPECT_EQ(number(exits[0], "failed"), 0);
}

TEST_F(PreloadShims, FailSync_WithoutN_PassesThroughAndCountsFdatasyncToo) {
    need_dd();
    if (IsSkipped()) return;
    auto r = dd("fdatasync", fail_sync(std::nullopt));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(m_out), std::string(16 << 10, 'a'));
    const auto exits = with_key(read_log(m_log), "syncs");
    ASSERT_EQ(exits.size(), 1u) << read_file(m_log);
    EXPECT_EQ(number(exits[0], "syncs"), 1);
    EXPECT_EQ(number(exits[0], "failed"), 0);
}

// Linux after a writeback error: the sync that meets it reports EIO, the
// pages written since the last good sync are lost, a later sync succeeds.
TEST_F(PreloadShims, FailSync_SecondSyncFails_OnlyTheBytesWrittenSinceTheFirstSyncAreZeroed) {
    need_python();
    if (IsSkipped()) return;
    const std::string script = R"(
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.pwrite(fd, b'A' * 8192, 0)
os.fsync(fd)                              # 1: real
os.pwrite(fd, b'B' * 4096, 8192)          # appended since
os.pwrite(fd, b'C' * 1000, 2000)          # and overwritten since
try:
    os.fsync(fd)                          # 2: injected
    sys.exit('the second fsync succeeded')
except OSError as e:
    if e.errno != errno.EIO: raise
os.fsync(fd)                              # 3: real, succeeds
)";
    auto r = run_process({m_python, "-c", script, m_out}, fail_sync(2));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string expected =
        std::string(2000, 'A') + std::string(1000, '\0') + std::string(8192 - 3000, 'A') + std::string(4096, '\0');
    EXPECT_EQ(read_file(m_out), expected);
    const auto log = read_log(m_log);
    const auto failed = with_key(log, "failed_sync");
    ASSERT_EQ(failed.size(), 1u) << read_file(m_log);
    EXPECT_EQ(number(failed[0], "failed_sync"), 2);
    EXPECT_EQ(failed[0].at("fd_kind"), "file");
    const auto exits = with_key(log, "syncs");
    ASSERT_EQ(exits.size(), 1u) << read_file(m_log);
    EXPECT_EQ(number(exits[0], "syncs"), 3);
    EXPECT_EQ(number(exits[0], "failed"), 1);
}

// The file is the inode: writes through one descriptor (write, writev, an
// O_APPEND one) are dropped by a sync through another, read-only one.
TEST_F(PreloadShims, FailSync_WritesThroughOtherDescriptors_AreDroppedBySyncingAReadOnlyOne) {
    need_python();
    if (IsSkipped()) return;
    const std::string script = R"(
import os, sys
p = sys.argv[1]
with open(p, 'wb') as f: f.write(b'K' * 100)   # no sync: lost as well
w = os.open(p, os.O_WRONLY)
os.lseek(w, 200, os.SEEK_SET)
os.write(w, b'W' * 50)
os.writev(w, [b'V' * 10, b'V' * 10])
a = os.open(p, os.O_WRONLY | os.O_APPEND)
os.write(a, b'P' * 30)
r = os.open(p, os.O_RDONLY)
try:
    os.fsync(r)
    sys.exit('the fsync succeeded')
except OSError:
    pass
)";
    auto r = run_process({m_python, "-c", script, m_out}, fail_sync(1));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(m_out), std::string(300, '\0'));
    const auto failed = with_key(read_log(m_log), "failed_sync");
    ASSERT_EQ(failed.size(), 1u) << read_file(m_log);
    EXPECT_EQ(failed[0].at("fd_kind"), "file");
}

TEST_F(PreloadShims, FailSync_DirectorySyncCounts_AndIsLoggedAsDir) {
    need_python();
    if (IsSkipped()) return;
    const std::string script = R"(
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.fsync(fd)                               # 1: real
try:
    os.fsync(fd)                           # 2: injected
    sys.exit('the second fsync succeeded')
except OSError:
    pass
)";
    auto r = run_process({m_python, "-c", script, m_dir.path()}, fail_sync(2));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto failed = with_key(read_log(m_log), "failed_sync");
    ASSERT_EQ(failed.size(), 1u) << read_file(m_log);
    EXPECT_EQ(failed[0].at("fd_kind"), "dir");
    EXPECT_EQ(failed[0].at("path"), fs::canonical(m_dir.path()).string());
}

TEST_F(PreloadShims, CountLocks_FlockCommand_CountsItsFlockCall) {
    const std::string flock = find_program("flock");
    if (flock.empty()) GTEST_SKIP() << "flock (util-linux) is not installed";
    write_file(m_in, "");
    auto r = run_process({flock, "-n", m_in, "true"}, count_locks());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // flock runs `true` in a child, which logs a line of its own.
    long most = -1;
    for (const auto &l : with_key(read_log(m_log), "flock")) most = std::max(most, number(l, "flock"));
    EXPECT_GE(most, 1) << read_file(m_log);
}

TEST_F(PreloadShims, CountLocks_PythonLockfAndOfdLock_CountAsFcntlLocks) {
    need_python();
    if (IsSkipped()) return;
    const std::string script = R"(
import fcntl, struct, sys
with open(sys.argv[1], 'w') as a, open(sys.argv[2], 'w') as b:
    fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB)                        # F_SETLK
    lock = struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0)             # struct flock
    fcntl.fcntl(b, fcntl.F_OFD_SETLK, lock)
    fcntl.fcntl(b, fcntl.F_GETFL)                                        # not a lock
)";
    auto r = run_process({m_python, "-c", script, m_in, m_out}, count_locks());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = with_key(read_log(m_log), "fcntl_lock");
    ASSERT_EQ(lines.size(), 1u) << read_file(m_log);
    EXPECT_GE(number(lines[0], "fcntl_lock"), 2) << read_file(m_log);
    EXPECT_EQ(number(lines[0], "flock"), 0) << read_file(m_log);
}

}  // namespace
}  // namespace blobfetch::test
