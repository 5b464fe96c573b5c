// Paths and the file system: confinement to the cache directory (also
// through symbolic links), restrictive permissions while partial, a read-only
// cache, a missing parent, a path too long, a full disk, a size limit, FIFOs
// and directories where files belong. Every
// failure is a clear error and loses no previously completed chunk.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <sys/mount.h>
#include <sys/stat.h>

#include "engine_fixture.h"

namespace blobfetch::test {
namespace {

// A small tmpfs mounted for one test (root only; the test skips otherwise).
class Tmpfs {
public:
    Tmpfs(const std::string &dir, const std::string &options) : m_dir(dir) {
        fs::create_directories(dir);
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0) m_mounted = true;
        else m_error = std::strerror(errno);
    }
    ~Tmpfs() {
        if (m_mounted) ::umount2(m_dir.c_str(), MNT_DETACH);
    }
    bool mounted() const { return m_mounted; }
    const std::string &error() const { return m_error; }
    void remount(const std::string &options) {
        ASSERT_EQ(::mount("tmpfs", m_dir.c_str(), "tmpfs", MS_REMOUNT, options.c_str()), 0) << std::strerror(errno);
    }

private:
    std::string m_dir;
    bool m_mounted = false;
    std::string m_error;
};

unsigned mode_of(const fs::path &p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
}

unsigned process_umask() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Umask:", 0) == 0) return static_cast<unsigned>(std::stoul(line.substr(6), nullptr, 8));
    return 022;
}

TEST_F(EngineTest, SymlinkInsideTheCachePointingOutside_IsRefused_NothingWrittenThere) {
    TempDir outside;
    fs::create_directories(fs::path(dir.path()) / "cache");
    fs::create_directory_symlink(outside.path(), fs::path(dir.path()) / "cache" / "evil");
    BlobSpec b = blob("evil/x.bin", 81, 3 * kChunk);
    FetchResult r = fetch({b});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::unsafe_path) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("symbolic link"), std::string::npos) << r.blobs[0].status.message();
    EXPECT_TRUE(fs::is_empty(outside.path())) << "not even a lock file outside the cache";
    EXPECT_TRUE(server.requests().empty());

    // Every link below the cache directory is refused, also one that stays
    // inside (it could be turned outward at any moment); the message names it.
    fs::create_directories(fs::path(dir.path()) / "cache" / "real");
    fs::create_directory_symlink(fs::path(dir.path()) / "cache" / "real", fs::path(dir.path()) / "cache" / "alias");
    BlobSpec inside = blob("alias/y.bin", 82, 1000);
    r = fetch({inside});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::unsafe_path) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("cache/alias' is a symbolic link"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_TRUE(fs::is_empty(fs::path(dir.path()) / "cache" / "real"));

    // The cache directory itself may be a link.
    TempDir elsewhere;
    fs::create_directory_symlink(elsewhere.path(), fs::path(dir.path()) / "linked-root");
    BlobSpec ok = blob("y.bin", 82, 1000);
    ok.path = "linked-root/y.bin";
    BlobSetFetcher fetcher(options());
    FetchResult linked = fetcher.fetch(fs::path(dir.path()) / "linked-root", {BlobSpec{ok.url, "y.bin", 1000, ok.sha256, "", ""}},
                                       {}, Logger{});
    ASSERT_TRUE(linked.status.ok()) << linked.blobs[0].status.message();
    EXPECT_TRUE(fs::is_regular_file(fs::path(elsewhere.path()) / "y.bin"));
}

TEST_F(EngineTest, PartialFilesAreOwnerOnly_PublishedFilesFollowTheUmask) {
    BlobSpec b = blob("perm.bin", 83, 4 * kChunk);
    ASSERT_FALSE(fetch_failing_from_chunk(b, 3).status.ok());
    EXPECT_EQ(mode_of(partial(b).data), 0600u);
    EXPECT_EQ(mode_of(partial(b).state), 0600u);
    server.clear_rules();
    ASSERT_TRUE(fetch({b}).status.ok());
    EXPECT_EQ(mode_of(final_path(b)), 0666u & ~process_umask());
}

TEST_F(EngineTest, MissingParentsAreCreated_APathTooLongIsAClearError) {
    BlobSpec deep = blob("a/b/c/d/deep.bin", 84, 1000);
    ASSERT_TRUE(fetch({deep}).status.ok());
    EXPECT_TRUE(published(deep) == blob_content(84, 1000));

    BlobSpec longname = blob(std::string(300, 'n') + ".bin", 85, 1000);
    FetchResult r = fetch({longname});
    ASSERT_FALSE(r.blobs[0].status.ok());
    EXPECT_NE(r.blobs[0].status.message().find("too long"), std::string::npos) << r.blobs[0].status.message();
    EXPECT_TRUE(requests_for(longname).empty());
}

// Special files where blobfetch keeps its own regular files never hang a run
// (opening a FIFO for reading blocks until a writer comes): a FIFO as the
// sidecar, as a cached blob or as the partial file is not trusted and is
// replaced; a directory as the partial file is an error naming it; one as
// the lock file shares no lock: the blob is fetched in private files, with a
// warning naming it (in a shared sticky directory it may be another user's,
// which nobody else can remove).
TEST_F(EngineTest, FifosAndDirectoriesInPlaceOfItsFiles_NeverHang_AreReplacedOrNamed) {
    BlobSpec state = blob("odd/state.bin", 90, 3 * kChunk);
    fs::create_directories(final_path(state).parent_path());
    ASSERT_EQ(::mkfifo(partial(state).state.c_str(), 0600), 0) << std::strerror(errno);
    BlobSpec empty = blob("odd/empty.bin", 91, 0);
    ASSERT_EQ(::mkfifo(final_path(empty).c_str(), 0644), 0) << std::strerror(errno);
    FetchResult r = fetch({state, empty});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(state) == blob_content(90, 3 * kChunk));
    EXPECT_TRUE(fs::is_regular_file(final_path(empty)));
    EXPECT_NE(logs().find("not a regular file"), std::string::npos) << logs();
    EXPECT_TRUE(leftovers().empty());

    // A fresh start makes a new partial file: a FIFO there is replaced, a
    // directory is an error naming it.
    BlobSpec part = blob("odd/part.bin", 92, 3 * kChunk);
    ASSERT_EQ(::mkfifo(partial(part).data.c_str(), 0600), 0) << std::strerror(errno);
    r = fetch({part});
    ASSERT_TRUE(r.status.ok()) << r.blobs[0].status.message();
    EXPECT_TRUE(published(part) == blob_content(92, 3 * kChunk));
    BlobSpec part_dir = blob("odd/part-dir.bin", 94, 3 * kChunk);
    fs::create_directories(partial(part_dir).data);
    r = fetch({part_dir});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::io) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find(partial(part_dir).data.string() + "' is not a regular file"),
              std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_TRUE(requests_for(part_dir).empty());

    BlobSpec locked = blob("lockdir/x.bin", 93, 1000);
    const fs::path lock_dir = final_path(locked).parent_path() / ".download.lock";
    fs::create_directories(lock_dir);
    r = fetch({locked});
    ASSERT_TRUE(r.blobs[0].status.ok()) << r.blobs[0].status.message();
    EXPECT_TRUE(published(locked) == blob_content(93, 1000));
    EXPECT_NE(logs().find("'" + lock_dir.string() + "' is a directory"), std::string::npos) << logs();
    EXPECT_NE(logs().find("private temporary files"), std::string::npos) << logs();
    EXPECT_TRUE(fs::is_directory(lock_dir)) << "left as it is";
}

TEST_F(EngineTest, LargerThanMaxBlobSize_RefusedBeforeAnyRequestOrPreallocation) {
    BlobSpec known = blob("big-known.bin", 86, 2 * kChunk);
    BlobSpec unknown = blob("big-unknown.bin", 87, 2 * kChunk, /*with_sha=*/false);
    unknown.size = -1;
    auto o = options();
    o.max_blob_size = kChunk;
    FetchResult r = fetch({known, unknown}, o);
    ASSERT_EQ(r.blobs[0].status.code(), Errc::verify);
    EXPECT_NE(r.blobs[0].status.message().find("max_blob_size"), std::string::npos) << r.blobs[0].status.message();
    EXPECT_TRUE(requests_for(known).empty()) << "the descriptor's size alone decides";
    ASSERT_EQ(r.blobs[1].status.code(), Errc::verify) << r.blobs[1].status.message();
    EXPECT_NE(r.blobs[1].status.message().find("announces 131072 bytes"), std::string::npos)
        << r.blobs[1].status.message();
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(EngineTest, FullDisk_FailsBeforeTransferring_AndAResumedRecordSurvivesAFullDisk) {
    const std::string mnt = dir / "cache";
    Tmpfs tmpfs(mnt, "size=2m");
    if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << tmpfs.error() << "); needs root";

    BlobSpec big = blob("too-big.bin", 88, 4 << 20);
    FetchResult r = fetch({big});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::io) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("not enough disk space"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_TRUE(requests_for(big).empty()) << "nothing is transferred to a disk that cannot hold it";
    EXPECT_TRUE(leftovers().empty());

    // A blob half downloaded, then the disk fills up: the next attempt fails
    // clearly, and the record of the chunks already there survives it.
    BlobSpec b = blob("half.bin", 89, 16 * kChunk);
    ASSERT_FALSE(fetch_failing_from_chunk(b, 8).status.ok());
    auto before = load_download_state(partial(b).state);
    ASSERT_TRUE(before.ok()) << before.message();
    ASSERT_EQ(before->chunks.completed(), 8u);
    {
        std::ofstream filler(mnt + "/filler", std::ios::binary);
        const std::string block(64 << 10, 'f');
        while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
        }
    }
    FetchResult full = fetch({b}, serial_without_retries());  // chunk 8 still fails; the record cannot be rewritten
    ASSERT_FALSE(full.status.ok());
    auto after = load_download_state(partial(b).state);
    ASSERT_TRUE(after.ok()) << "the record is still whole: " << after.message();
    EXPECT_GE(after->chunks.completed(), 8u) << "no chunk recorded before is lost";

    fs::remove(mnt + "/filler");
    server.clear_rules();
    forget_requests(server.requests().size());
    FetchResult done = fetch({b});
    ASSERT_TRUE(done.status.ok()) << done.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(89, 16 * kChunk));
    EXPECT_EQ(requests_for(b).size(), 8u) << "only the chunks that were missing";
}

TEST_F(EngineTest, ReadOnlyCache_IsAClearErrorAndTouchesNothing) {
    const std::string mnt = dir / "cache";
    Tmpfs tmpfs(mnt, "size=4m");
    if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << tmpfs.error() << "); needs root";
    tmpfs.remount("ro,size=4m");
    BlobSpec b = blob("ro.bin", 90, 3 * kChunk);
    FetchResult r = fetch({b});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::io) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("Read-only file system"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace blobfetch::test
