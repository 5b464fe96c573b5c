#pragma once
// The crash-consistency model of tests/crash/ (written down in MODEL.md):
// the operation log the recorder (crash_recorder.c) wrote, read back; what a
// crash after any prefix of it may leave on disk under the conservative
// POSIX model and under ext4 data=ordered; and those crash states built as
// real directories.
//
// Not thread-safe; every function is pure apart from materialise().

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace blobfetch::crash {

enum class OpKind {
    open, write, trunc, falloc, fsync, fdatasync, rename, link, unlink, rmdir, mkdir, dup, close,
    lock, flock, fail, inject, drop,
};
const char *op_kind_name(OpKind kind);

// One line of the log. Paths are relative to the recorded root ("." is it).
struct Op {
    OpKind kind{};
    int fd = -1, fd2 = -1;      // fd2: dup's new descriptor
    std::string path, path2;    // open/unlink/mkdir/rmdir: path; rename/link: path -> path2
    std::int64_t offset = 0, len = 0;
    std::uint64_t data_offset = 0;  // write: where its bytes are in the data file
    unsigned flags = 0;             // open: the open flags
    int mode = 0;                   // falloc: the mode
    std::string line;               // the line as logged
};
// Parses the recorder's log; throws std::runtime_error naming a bad line.
std::vector<Op> parse_log(const std::string &text);

// A directory tree as files and directories relative to its root.
struct Tree {
    std::map<std::string, std::string> files;  // path -> bytes
    std::set<std::string> dirs;                // every directory but the root
    bool operator==(const Tree &) const = default;
};
Tree read_tree(const std::string &root);
// Creates `root` (which must not exist) holding exactly `tree`.
void materialise(const Tree &tree, const std::string &root);
// A digest of the tree's names and bytes (equal trees, equal digests).
std::string tree_digest(const Tree &tree);

enum class Model { posix, ext4_ordered };
const char *model_name(Model model);

// Which of the not-yet-durable operations before the crash point a crash
// state drops: an op index in `lost` is gone; a write in `pages` keeps only
// the 4 KiB pages of the file whose bit is set (bit i: the i-th page the
// write touches, at most 64 tracked; pages beyond are lost).
struct CrashChoice {
    std::set<std::size_t> lost;
    std::map<std::size_t, std::uint64_t> pages;
    std::string label;  // "all-lost", "all-kept", "write#12-lost", "sample#3", ...
};

// What replaying the log up to a crash point tells about each operation.
class CrashModel {
public:
    // `initial`: the directory before the recorded run (durable: it was
    // there before); `data`: the data file's bytes.
    CrashModel(std::vector<Op> ops, Tree initial, std::string data);

    std::size_t size() const { return m_ops.size(); }
    const Op &op(std::size_t i) const { return m_ops[i]; }

    // The crash states the model allows for a crash after ops [0, k): the
    // base states (all unsynced lost, all kept, each unsynced write lost
    // alone (at most `max_singles`, spread evenly), every entry op kept with
    // all unsynced data lost, and the reverse, and for each directory (POSIX)
    // or the journal (ext4) each prefix of its unsynced entry operations, at
    // most `max_singles`), then `samples` random combinations drawn from `rng`.
    std::vector<CrashChoice> states(std::size_t k, Model model, std::size_t max_singles, std::size_t samples,
                                    std::mt19937_64 &rng) const;
    // The directory a crash after ops [0, k) leaves when `choice` is dropped.
    Tree crash_tree(std::size_t k, const CrashChoice &choice) const;
    // The operations not yet durable at k under `model` (op indices), for
    // messages.
    std::vector<std::size_t> unsynced(std::size_t k, Model model) const;
    // Ops before k that can be dropped (unsynced), split as the model sees them.
    struct Pending {
        std::vector<std::size_t> data;                               // data writes not yet synced
        std::vector<std::size_t> sizes;                              // trunc/falloc/open(O_TRUNC) not yet synced
        std::map<std::string, std::vector<std::size_t>> entries;     // posix: per directory, in order
        std::vector<std::size_t> journal;                            // ext4: metadata not yet committed, in order
    };
    Pending pending(std::size_t k, Model model) const;

private:
    struct Annot {
        int ino = -1;        // the inode a data op, sync or open acts on
        std::string dir;     // entry ops: the directory the entry is in
        bool entry = false;  // create, link, unlink, rename, mkdir, rmdir
        bool data = false;   // write, trunc, falloc, open with O_TRUNC
        bool extends = false;  // ext4: changes the size or the allocation (journalled metadata)
        bool creates = false;  // open that created `ino` at `path` (O_TMPFILE: no entry)
        bool is_dir_sync = false;
        std::string sync_dir;  // fsync of a directory: which
    };
    void annotate();

    std::vector<Op> m_ops;
    std::vector<Annot> m_an;
    Tree m_initial;
    std::map<std::string, int> m_initial_inodes;  // path -> inode of the initial files
    int m_inodes = 0;
    std::string m_data;
};

}  // namespace blobfetch::crash
