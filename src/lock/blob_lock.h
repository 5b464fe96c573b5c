#pragma once
// The cross-process lock on one blob: a byte-range lock in its directory's
// `<dir>/.download.lock`, so that two processes never download the same blob
// at once, and two downloading different blobs of one directory (vcpkg keeps
// every asset in one `downloads/`) never wait on each other.
//
// ## The lock file: layout (format 1)
//
//   bytes 0..63            the whole-directory holder line (dir_lock.h: gc,
//                          tools), `PID:<pid>,Time:<ISO-8601 UTC>` padded with
//                          spaces to 63 bytes and a '\n'
//   64 + s*128 .. +127     holder slot s (0 <= s < 4096): the line
//                          `PID:<pid>,Time:<ISO-8601 UTC>,Key:<16 hex>,Blob:<name>`
//                          (name cut to 70 bytes) padded with spaces to 127
//                          bytes and a '\n', written by whoever took a blob
//                          whose slot is s; a waiter trusts a slot only when
//                          it names the key it waits for
//   byte 1 MiB - 1         the self-test byte (never held for longer than a
//                          test)
//   byte 1 MiB + k         the lock of every blob whose key is k, where
//                          k = FNV-1a-64(name) mod 2^61 and s = k mod 4096
//
// Nothing but the locks matters: the text is for diagnosis only, may be
// stale, torn or another blob's (a slot is shared by every key with the same
// residue), and is read defensively (a line that does not name the blob says
// "another process"). The file is writable by every user of the directory,
// so its text is anyone's: only the fields that parse (a PID, the time, the
// name as valid UTF-8 without control characters, at most 80 bytes) are ever
// handed out (lock_layout.h: clean_holder). The file is sparse; locks lie
// past its end.
//
// ## The locks
// Linux open file description locks (fcntl F_OFD_SETLK, write locks): they
// belong to an open file, not to a process, so two LockFile objects conflict
// even inside one process, closing another descriptor of the same file never
// drops them, and the kernel releases them when the holder exits or dies: a
// lock is never stale. A blob lock is one byte at 1 MiB + k (two names whose
// keys collide merely wait for each other, and the message names the other
// blob; by chance that takes about 2^30 names in one directory). The
// whole-directory lock (dir_lock.h) is a write lock on every byte, so it
// excludes, and waits for, every blob lock: gc removes nothing while any blob
// of the directory is being fetched, and a fetch never starts a blob while gc
// runs there.
//
// ## What can go wrong
// - gc removes the lock file while holding the whole-directory lock; a
//   process that had it open before then locks a file nobody else sees.
//   Every acquisition therefore checks, after locking, that the name still
//   refers to the locked inode, and opens the file again otherwise.
// - A file system where locks do nothing (some network shares): a self-test
//   with a second open file description, once per file system and process,
//   tells (enforced()), and the caller must not rely on the lock (the engine
//   then downloads into private files).
// - A lock file made by another user that this user may not write (made 0644
//   by an older blobfetch: new ones are 0666, the directory's permissions
//   decide who may fetch there): write locks need a writable descriptor, so
//   none is shared through it: not enforced, and the reason says to chmod it.
// - Something that is no regular file at the name (a directory, a symbolic
//   link, a FIFO; in a shared sticky directory another user's, which this
//   one cannot remove): nothing is opened through it (no link is followed,
//   no open waits on a FIFO), not enforced, and the reason names the path
//   and what is there.
// - A crash leaves only the file, which is reused as it is.
//
// Cost of an attempt at n blobs of one directory: at most n F_OFD_GETLK
// calls to find which ranges others hold there (about two per held lock plus
// one: a whole-directory lock is seen in one call), then one F_OFD_SETLK per
// blob found free, and one fstat/fstatat pair.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/file.h"

namespace blobfetch {

class DirHandle;

// One open description of a directory's lock file, shared by the blob locks
// taken through it (one per directory per engine).
class LockFile {
public:
    // Opens (creating it 0666) `<dir>/.download.lock` through the directory
    // handle. Errors (Errc::io) are real failures (the directory's
    // permissions, I/O); a lock file no lock can be shared through (another
    // user's unwritable one, something that is no regular file) is a
    // LockFile that is not enforced, saying why.
    static Expected<std::shared_ptr<LockFile>> open(const DirHandle &dir);

    // False when no lock is shared through this file (see above): callers
    // must stay correct without it.
    bool enforced() const { return m_enforced; }
    const std::string &why_not_enforced() const { return m_why; }
    const std::filesystem::path &path() const { return m_path; }
    int fd() const { return m_fd.get(); }

    LockFile(UniqueFd fd, std::filesystem::path path, bool writable);
    LockFile(const LockFile &) = delete;
    LockFile &operator=(const LockFile &) = delete;

    // (For blob_lock_posix.cpp: which keys this open file holds, and for
    // how many blobs; guarded by mutex(), held across each lock call so that
    // a release and an acquisition of one key never interleave.)
    std::mutex &mutex() { return m_mutex; }
    std::vector<std::pair<std::uint64_t, int>> &held() { return m_held; }
    void set_not_enforced(std::string why) {
        m_enforced = false;
        m_why = std::move(why);
    }
    bool writable() const { return m_writable; }

private:
    UniqueFd m_fd;
    std::filesystem::path m_path;
    bool m_writable;
    bool m_enforced = true;
    std::string m_why;
    std::mutex m_mutex;                          // guards m_held
    std::vector<std::pair<std::uint64_t, int>> m_held;  // key -> blobs of this file holding it
};

// A held blob lock; released (when no other blob of the same LockFile holds
// the same key) when destroyed.
class BlobLock {
public:
    BlobLock(std::shared_ptr<LockFile> file, std::uint64_t key) : m_file(std::move(file)), m_key(key) {}
    ~BlobLock();
    BlobLock(const BlobLock &) = delete;
    BlobLock &operator=(const BlobLock &) = delete;
    bool enforced() const { return m_file->enforced(); }
    const std::string &why_not_enforced() const { return m_file->why_not_enforced(); }
    const LockFile &file() const { return *m_file; }

private:
    std::shared_ptr<LockFile> m_file;
    std::uint64_t m_key;
};

struct BlobAttempt {
    std::unique_ptr<BlobLock> lock;  // set when taken
    std::string holder;              // when busy: the holder's line, clean_holder()'s ("PID:1234,Time:...[,Blob:...]"), "" if unknown
};

// The key of blob `name` (its file name in the directory), of its path_key():
// on Windows, names that differ only in ASCII case have one key, so that two
// processes never write one file through two spellings.
std::uint64_t blob_lock_key(std::string_view name);

// One attempt, never waiting, at the locks of the blobs `names` (file names
// in `dir`) through `file` (open on `dir`'s lock file; opened here when
// null): one result per name, in order. When the lock file turned out to be
// removed or replaced, `file` is reopened (hence the reference) and the
// attempt repeated; a failure to (re)open is the Status. One attempt at a
// time per LockFile; BlobLock objects may be released on any thread
// meanwhile.
Expected<std::vector<BlobAttempt>> try_lock_blobs(std::shared_ptr<LockFile> &file, const DirHandle &dir,
                                                  const std::vector<std::string> &names);

// True when `dir`'s lock file name still refers to the file `file` has
// open (it was not removed or replaced, e.g. by a tmp cleaner, since it was
// opened). A lock held through a file nobody else can open protects
// nothing. Cost: one fstat and one fstatat (Windows: an open). Thread-safe.
bool lock_file_still_named(const LockFile &file, const DirHandle &dir);

// Whether another open file holds blob `name`'s lock in `dir`, creating,
// changing and removing nothing (no directory or lock file: not held). For
// the read-only commands (status).
struct BlobProbe {
    bool held = false;
    std::string holder;  // when held: the holder's line, clean_holder()'s, "" if unknown
};
Expected<BlobProbe> probe_blob_lock(const std::filesystem::path &dir, const std::string &name);

}  // namespace blobfetch
