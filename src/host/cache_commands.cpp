#include "host/cache_commands.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "base/path_safety.h"
#include "config/manifest.h"
#include "hash/sha256.h"
#include "host/asset_staging.h"
#include "host/json_output.h"
#include "host/platform.h"
#include "host/progress_display.h"
#include "io/dir_handle.h"
#include "io/file.h"
#include "lock/blob_lock.h"
#include "lock/dir_lock.h"
#include "state/download_state.h"

namespace blobfetch::host {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string strip(const std::string &s, const std::string &suffix) { return s.substr(0, s.size() - suffix.size()); }

// "<final>.~bf<pid>-<16 hex>": the private temporary name of a process that did
// not lock (see partial_file.h's private_suffix(); no blob name contains
// ".~bf"); returns the pid.
std::optional<long> private_owner(const std::string &base) {
    const auto dot = base.rfind(".~bf");
    if (dot == std::string::npos) return std::nullopt;
    const std::string tail = base.substr(dot + 4);  // <pid>-<16 hex digits>
    const auto dash = tail.find('-');
    auto digits = [](const std::string &t) {
        return !t.empty() && t.size() < 12 && t.find_first_not_of("0123456789") == std::string::npos;
    };
    auto hex = [](const std::string &t) {
        return !t.empty() && t.size() <= 16 && t.find_first_not_of("0123456789abcdef") == std::string::npos;
    };
    if (dash == std::string::npos || !digits(tail.substr(0, dash)) || !hex(tail.substr(dash + 1)))
        return std::nullopt;
    return std::stol(tail.substr(0, dash));
}


std::string age_text(std::time_t when) {
    const auto secs = static_cast<long long>(std::time(nullptr) - when);
    char buf[32];
    if (secs < 120) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(secs));
    else if (secs < 7200) std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(secs / 60));
    else if (secs < 172800) std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(secs / 3600));
    else std::snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(secs / 86400));
    return buf;
}

// vcpkg's own temporary `<file>.<pid>.part`, which gc never touches: the
// part before ".part" ends in a dot and digits.
bool is_vcpkg_temporary(const std::string &base) {
    const auto dot = base.rfind('.');
    return dot != std::string::npos && dot + 1 < base.size() &&
           base.find_first_not_of("0123456789", dot + 1) == std::string::npos;
}

// Whether `name` in `dir` starts like a blobfetch record (its magic), so that
// a file that merely ends in ".dlstate" is never taken for one.
bool has_record_magic(const DirHandle &dir, const std::string &name) {
    UniqueFd fd = dir.open(name, O_RDONLY | O_NONBLOCK);
    char magic[8] = {};
    if (!fd) return false;
    auto n = read_at_most(fd.get(), magic, sizeof magic, 0, path_to_utf8(dir.show(name)));
    return n && *n == sizeof magic && std::string_view(magic, sizeof magic) == "BFDLSTAT";
}

// Whether `name` in `dir` is a record whose bytes never reached the disk: a
// save is renamed into place before (relaxed durability: without) a sync, so
// a power loss can leave the name with no bytes, or zeros. A record is far
// smaller than a page, so it is all there (its magic) or none of it.
bool is_torn_record(const DirHandle &dir, const std::string &name) {
    UniqueFd fd = dir.open(name, O_RDONLY | O_NONBLOCK);
    if (!fd) return false;
    char buf[4096];
    for (std::int64_t at = 0; at < (std::int64_t{1} << 20);) {
        auto n = read_at_most(fd.get(), buf, sizeof buf, at, path_to_utf8(dir.show(name)));
        if (!n) return false;
        if (*n == 0) return true;
        for (std::size_t i = 0; i < *n; ++i)
            if (buf[i] != 0) return false;
        at += static_cast<std::int64_t>(*n);
    }
    return false;
}

bool is_sha512_name(const std::string &n) {
    return n.size() == 128 && n.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool is_download_file(const std::string &name) {
    return ends_with(name, ".part") || ends_with(name, ".dlstate") || ends_with(name, ".dlstate.tmp");
}

// What `name` in `dir` is: its size, or -1 when it is not a regular file.
std::int64_t file_size_in(const DirHandle &dir, const std::string &name) {
    struct stat st {};
    if (dir.stat(name, st) != 0 || !S_ISREG(st.st_mode)) return -1;
    return static_cast<std::int64_t>(st.st_size);
}

// The bytes `name` in `dir` takes on disk (st_blocks; on Windows, which
// stat gives no allocation, its size), or -1 when it is not a regular file.
std::int64_t allocated_size_in(const DirHandle &dir, const std::string &name) {
    struct stat st {};
    if (dir.stat(name, st) != 0 || !S_ISREG(st.st_mode)) return -1;
#ifdef _WIN32
    return static_cast<std::int64_t>(st.st_size);
#else
    return std::min(static_cast<std::int64_t>(st.st_blocks) * 512, static_cast<std::int64_t>(st.st_size));
#endif
}

// The blobfetch files of a cache, by directory relative to the cache
// ('/'-separated UTF-8, "" for the cache itself): downloads in `by_dir`, and
// every directory holding a lock file in `locked_dirs`. Walked through
// directory handles (never following a link, long paths and non-ASCII names
// as everywhere else: io/dir_handle.h), not std::filesystem's paths.
struct Found {
    std::shared_ptr<DirHandle> root;
    std::map<std::string, std::vector<std::string>> by_dir;
    std::set<std::string> locked_dirs;
    std::string error;
};

std::string child_of(const std::string &rel, const std::string &name) { return rel.empty() ? name : rel + "/" + name; }

// The directory `rel` of the cache, opened beneath its root (the root itself for "").
Expected<std::shared_ptr<DirHandle>> open_rel(const std::shared_ptr<DirHandle> &root, const std::string &rel) {
    if (rel.empty()) return root;
    return DirHandle::open_beneath(root, rel, /*create=*/false);
}

// `rel` (a '/'-separated path below the cache) as this platform shows paths.
std::string shown_rel(const std::string &rel) { return path_to_utf8(path_from_utf8(rel).make_preferred()); }

// The last component of `rel`.
std::string last_of(const std::string &rel) { return file_name_of(rel); }

Found scan(const std::string &cache) {
    Found f;
    auto root = DirHandle::open_root(path_from_utf8(cache), /*create=*/false);
    if (!root) {
        f.error = root.status().code() == Errc::not_found ? "'" + cache + "' is not a directory" : root.message();
        return f;
    }
    f.root = *root;
    std::vector<std::string> todo{""};
    while (!todo.empty()) {
        const std::string rel = todo.back();
        todo.pop_back();
        auto dir = open_rel(f.root, rel);
        if (!dir) continue;  // gone, or a link since it was listed: not followed
        for (const auto &name : entries_of(**dir)) {
            struct stat st {};
            if ((*dir)->stat(name, st) != 0) continue;
            if (S_ISDIR(st.st_mode)) {
                todo.push_back(child_of(rel, name));
                continue;
            }
            if (!S_ISREG(st.st_mode)) continue;  // links are never followed
            if (is_download_file(name) || is_placement_temporary(name)) f.by_dir[rel].push_back(name);
            else if (name == kLockFileName) f.locked_dirs.insert(rel);
        }
    }
    for (auto &[rel, names] : f.by_dir) std::sort(names.begin(), names.end());
    return f;
}

// Who fetches blob `name` of `dir` now ("" when nobody), looked at without
// creating or changing anything.
std::string holder_of(const fs::path &dir, const std::string &name) {
    auto probe = probe_blob_lock(dir, name);
    if (!probe.ok()) return "unknown (" + probe.message() + ")";
    return probe->held ? describe_holder(probe->holder) : std::string();
}

// The blob a download file belongs to: its name without the engine's suffix.
std::string blob_of(const std::string &file) {
    for (const char *suffix : {".dlstate.tmp", ".dlstate", ".part"})
        if (ends_with(file, suffix)) return strip(file, suffix);
    return file;
}

}  // namespace

int run_status(const std::string &cache, bool json, std::ostream &out) {
    Found found = scan(cache);
    if (!found.error.empty()) {
        std::fprintf(stderr, "blobfetch: error: %s\n", found.error.c_str());
        return kExitBadInput;
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto &[rel, files] : found.by_dir) {
        auto opened = open_rel(found.root, rel);
        if (!opened) continue;  // gone since the scan
        const DirHandle &dir = **opened;
        const std::set<std::string> here(files.begin(), files.end());
        for (const auto &name : files) {
            nlohmann::json e;
            struct stat st {};
            e["age"] = dir.stat(name, st) != 0 ? "?" : age_text(st.st_mtime);
            e["in_progress_by"] = holder_of(dir.path(), blob_of(name));
            if (ends_with(name, ".dlstate")) {
                const std::string base = strip(name, ".dlstate");
                e["blob"] = shown_rel(child_of(rel, base));
                auto record = load_download_state(dir, name);
                if (!record) {
                    e["state"] = "unreadable record: " + record.message();
                } else {
                    const bool data = file_size_in(dir, base + ".part") >= 0;
                    e["state"] = data ? "resumable" : "record without data";
                    e["done_bytes"] = record->recorded_bytes();
                    e["total_bytes"] = record->blob_size;
                    e["percent"] = record->blob_size > 0 ? record->recorded_bytes() * 100 / record->blob_size : 100;
                    e["chunks"] = std::to_string(record->chunks.completed()) + "/" + std::to_string(record->chunks.size());
                    if (!record->partial.empty()) e["chunks_in_flight"] = record->partial.size();  // their first bytes recorded
                    e["remote"] = !record->identity.etag.empty() ? "ETag " + shown_validator(record->identity.etag)
                                  : !record->identity.last_modified.empty()
                                      ? "Last-Modified " + shown_validator(record->identity.last_modified)
                                                                            : "no validators";
                }
            } else if (ends_with(name, ".part")) {
                const std::string base = strip(name, ".part");
                if (here.count(base + ".dlstate") || file_size_in(dir, base + ".dlstate") >= 0) continue;  // with its record
                e["blob"] = shown_rel(child_of(rel, base));
                e["state"] = private_owner(base) ? "private partial file (not resumable)"
                                                 : "partial file without a record (not resumable)";
                e["done_bytes"] = static_cast<std::int64_t>(st.st_size);
            } else {
                e["blob"] = shown_rel(child_of(rel, name));
                e["state"] = "temporary of an interrupted save";
            }
            list.push_back(e);
        }
    }
    if (json) {
        print_json(out, {{"cache_dir", cache}, {"unfinished", list}});
        return kExitOk;
    }
    if (list.empty()) {
        out << "no unfinished downloads in " << cache << "\n";
        return kExitOk;
    }
    for (const auto &e : list) {
        std::string line = e.value("blob", "?") + "\n    ";
        if (e.contains("percent"))
            line += std::to_string(e["percent"].get<std::int64_t>()) + "% (" + human_bytes(e["done_bytes"].get<std::int64_t>()) + " of " +
                    human_bytes(e["total_bytes"].get<std::int64_t>()) + ", chunks " + e["chunks"].get<std::string>() + "), " +
                    e["remote"].get<std::string>() + ", ";
        line += e["state"].get<std::string>() + ", updated " + e["age"].get<std::string>() + " ago";
        if (!e["in_progress_by"].get<std::string>().empty())
            line += ", being fetched by " + e["in_progress_by"].get<std::string>();
        out << line << "\n";
    }
    return kExitOk;
}

namespace {

// Whether the file published at `name` is the blob a record was started
// for: by the digest the record keeps (the descriptor's SHA-256, or the
// first half of its SHA-512). False when that cannot be told (no digest).
bool published_matches(const DirHandle &dir, const std::string &name, const DownloadState &record) {
    if (file_size_in(dir, name) != record.blob_size) return false;
    if (record.expected_sha256 == Digest32{}) return false;
    UniqueFd fd = dir.open(name, O_RDONLY | O_NONBLOCK);
    if (!fd) return false;
    // Both digests in one read: which one the record keeps is not stored.
    Sha256 sha256;
    Sha512 sha512;
    std::vector<char> buf(1 << 20);
    for (std::int64_t off = 0;;) {
        auto n = read_at_most(fd.get(), buf.data(), buf.size(), off, path_to_utf8(dir.show(name)));
        if (!n) return false;
        if (*n == 0) break;
        sha256.update(buf.data(), *n);
        sha512.update(buf.data(), *n);
        off += static_cast<std::int64_t>(*n);
    }
    return digest_from_hex(sha256.finish_hex()) == record.expected_sha256 ||
           digest_from_hex(sha512.finish_hex().substr(0, 64)) == record.expected_sha256;
}

}  // namespace

int run_gc(const std::string &cache, bool all, bool dry_run, bool json, std::ostream &out) {
    Found found = scan(cache);
    if (!found.error.empty()) {
        std::fprintf(stderr, "blobfetch: error: %s\n", found.error.c_str());
        return kExitBadInput;
    }
    nlohmann::json removed = nlohmann::json::array(), skipped = nlohmann::json::array();
    std::int64_t freed = 0;
    int errors = 0;
    for (const auto &dir : found.locked_dirs) found.by_dir[dir];  // lock files alone get a visit too
    for (const auto &[rel, files] : found.by_dir) {
        // Every look and removal goes through the directory opened beneath
        // the cache without following links: one swapped for a link since
        // the scan is left alone, never followed.
        auto handle = open_rel(found.root, rel);
        if (!handle) {
            skipped.push_back({{"dir", path_to_utf8(found.root->show(rel).make_preferred())}, {"why", handle.message()}});
            continue;
        }
        const DirHandle &dir = **handle;
        const fs::path &dir_path = dir.path();
        const std::string dir_shown = path_to_utf8(dir_path);
        // A dry run only looks (it creates, changes and removes nothing); a
        // real one holds the directory's lock while it removes.
        std::unique_ptr<DirLock> held;
        if (dry_run) {
            auto probe = probe_directory_lock(dir_path);
            if (!probe.ok() || probe->held) {
                skipped.push_back({{"dir", dir_shown},
                                   {"why", probe.ok() ? "in use by " + describe_holder(probe->holder)
                                                      : probe.message()}});
                continue;
            }
        } else {
            auto attempt = try_lock_directory(dir);
            if (!attempt.ok() || !attempt->lock) {
                skipped.push_back({{"dir", dir_shown},
                                   {"why", attempt.ok() ? "in use by " + describe_holder(attempt->holder)
                                                        : attempt.message()}});
                continue;
            }
            if (!attempt->lock->enforced()) {
                // Without a lock that excludes fetchers nothing here is
                // provably dead: a live download may be using any of it.
                skipped.push_back({{"dir", dir_shown},
                                   {"why", "no lock can be taken there (" + attempt->lock->why_not_enforced() +
                                               "), so whether a download is running there cannot be told"}});
                continue;
            }
            held = std::move(attempt->lock);
        }
        std::set<std::string> dropped;  // removed (or, in a dry run, would be)
        auto drop = [&](const std::string &name, const std::string &why) {
            // (A lock file is sparse where the file system allows: what it frees is its allocated size.)
            const std::int64_t size = name == kLockFileName ? allocated_size_in(dir, name) : file_size_in(dir, name);
            if (size < 0) return;
            if (!dry_run) {
                if (const int e = dir.unlink(name); e != 0 && e != ENOENT) {
                    ++errors;
                    std::fprintf(stderr, "blobfetch: error: cannot remove '%s': %s\n", path_to_utf8(dir.show(name)).c_str(),
                                 std::strerror(e));
                    return;
                }
            }
            freed += size;
            dropped.insert(name);
            removed.push_back({{"path", path_to_utf8(dir.show(name))}, {"bytes", size}, {"why", why}});
        };
        // What is blobfetch's own: its private temporaries (exact names),
        // its records (their magic) and their partial files anywhere; a
        // partial file without a record or a record's temporary only in a
        // directory with blobfetch's lock file, and never vcpkg's
        // `<file>.<pid>.part`. Whatever else merely ends in .part or
        // .dlstate is never touched.
        const bool ours = found.locked_dirs.count(rel) > 0;
        auto mine = [&](const std::string &name) {
            if (is_placement_temporary(name)) return true;
            if (!is_download_file(name)) return false;
            const bool record = ends_with(name, ".dlstate");
            const std::string b = strip(name, record ? ".dlstate" : ends_with(name, ".part") ? ".part" : ".dlstate.tmp");
            if (private_owner(b) || (record && has_record_magic(dir, name)) ||
                (ends_with(name, ".part") && has_record_magic(dir, b + ".dlstate")))
                return true;
            return ours && !(ends_with(name, ".part") && is_vcpkg_temporary(b)) && !record;
        };
        for (const auto &name : files) {
            if (!ours && !mine(name)) continue;
            if (is_placement_temporary(name)) {
                if (private_owner_of(dir, name) == Owner::gone)
                    drop(name, "x-script's temporary of a placement that died");
                else
                    skipped.push_back({{"dir", path_to_utf8(dir.show(name))}, {"why", "in use by its process"}});
                continue;
            }
            if (ends_with(name, ".dlstate.tmp")) {
                drop(name, "temporary of an interrupted save");
                continue;
            }
            const bool is_record = ends_with(name, ".dlstate");
            const std::string base = strip(name, is_record ? ".dlstate" : ".part");
            if (auto pid = private_owner(base)) {
                switch (private_owner_of(dir, name)) {
                    case Owner::gone: drop(name, "private file of process " + std::to_string(*pid) + ", which is gone"); break;
                    case Owner::alive:
                        skipped.push_back({{"dir", path_to_utf8(dir.show(name))}, {"why", "in use by its process"}});
                        break;
                    case Owner::unknown:
                        if (all) drop(name, "private file whose owner cannot be told (--all)");
                        else
                            skipped.push_back({{"dir", path_to_utf8(dir.show(name))},
                                               {"why", "locks are not enforced here, so whether its process still "
                                                       "runs cannot be told; --all removes it"}});
                        break;
                }
                continue;
            }
            const std::string part = base + ".part";
            if (is_record && !has_record_magic(dir, name) && ours && is_torn_record(dir, name)) {
                // Beside blobfetch's lock file: a record torn by a crash. Its
                // partial file, if any, is then a bare one (below, next run).
                drop(name, "record whose bytes never reached the disk (a crash during its save)");
                continue;
            }
            if (is_record && !has_record_magic(dir, name)) {
                skipped.push_back({{"dir", path_to_utf8(dir.show(name))}, {"why", "not a blobfetch record"}});
                continue;
            }
            if (!is_record && is_vcpkg_temporary(base) && file_size_in(dir, base + ".dlstate") < 0) {
                skipped.push_back({{"dir", path_to_utf8(dir.show(name))},
                                   {"why", "another program's temporary file (vcpkg's <file>.<pid>.part?)"}});
                continue;
            }
            if (is_record) {
                const bool has_data = file_size_in(dir, part) >= 0;
                auto st = load_download_state(dir, name);
                if (!has_data) {
                    drop(name, file_size_in(dir, base) >= 0 ? "the blob is already published" : "record without data");
                } else if (!st) {
                    drop(name, "unreadable record");
                    drop(part, "its record is unreadable");
                } else if (file_size_in(dir, base) >= 0 && published_matches(dir, base, *st)) {
                    // (A file at the final name that is not the blob, e.g. an
                    // older or damaged one being replaced, keeps the download.)
                    drop(name, "the blob is already published");
                    drop(part, "the blob is already published");
                } else if (all) {
                    drop(name, "unfinished download (--all)");
                    drop(part, "unfinished download (--all)");
                }
            } else if (file_size_in(dir, base + ".dlstate") < 0) {
                drop(name, file_size_in(dir, base) >= 0 ? "the blob is already published"
                                                        : "partial file without a record");
            }
        }
        // x-script's staged assets (host/asset_staging.h) that no other name
        // has linked to for an hour (the link count's change is the inode's
        // ctime): placed and since removed, or never placed. (An x-script
        // keeps gc out of the directory from before the fetch until the
        // placement: host::hold_staging. Without --all, the hour keeps an
        // asset placed a moment ago and removed again, e.g. by a vcpkg that
        // failed, for the next run.)
        const bool staging = last_of(rel).rfind(kStagingDir, 0) == 0;
        if (staging && ours) {
            const std::time_t hour_ago = std::time(nullptr) - 3600;
            for (const auto &n : entries_of(dir)) {
                struct stat st {};
                if (is_sha512_name(n) && dir.stat(n, st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
                    (all || st.st_ctime < hour_ago))
                    drop(n, "staged asset that nothing links to any more");
            }
        }
        // No download left here: the lock file goes too, removed while we hold
        // it (a process waiting on it notices that the name holds another
        // file, or none, and opens the new one: see dir_lock_posix.cpp).
        bool downloads_left = false;
        for (const auto &n : entries_of(dir))
            if ((mine(n) || (staging && is_sha512_name(n))) && !dropped.count(n)) downloads_left = true;
        // A lock file this gc made itself (only to exclude fetches while it
        // looked) goes without a word: it was no leftover.
        if (!ours && !dry_run) (void)dir.unlink(kLockFileName);
        else if (!downloads_left) drop(kLockFileName, "lock file of a directory with no download left");
        held.reset();
    }
    if (json) {
        print_json(out, {{"cache_dir", cache}, {"dry_run", dry_run}, {"removed", removed},
                         {"bytes_freed", freed}, {"skipped", skipped}});
    } else {
        for (const auto &r : removed)
            out << (dry_run ? "would remove " : "removed ") << r["path"].get<std::string>() << " ("
                << r["why"].get<std::string>() << ", " << human_bytes(r["bytes"].get<std::int64_t>()) << ")\n";
        for (const auto &s : skipped)
            out << "left alone " << s["dir"].get<std::string>() << " (" << s["why"].get<std::string>() << ")\n";
        out << (dry_run ? "would free " : "freed ") << human_bytes(freed) << " in " << removed.size() << " files\n";
    }
    return errors ? kExitFailed : kExitOk;
}

namespace {

// The SHA-256 (hex) of `name` in `dir`.
Expected<std::string> sha256_in(const DirHandle &dir, const std::string &name) {
    UniqueFd fd = dir.open(name, O_RDONLY | O_NONBLOCK);
    if (!fd) return Status(Errc::io, "cannot open '" + path_to_utf8(dir.show(name)) + "': " + std::strerror(errno));
    Sha256 sha;
    std::vector<char> buf(1 << 20);
    for (std::int64_t off = 0;;) {
        auto n = read_at_most(fd.get(), buf.data(), buf.size(), off, path_to_utf8(dir.show(name)));
        if (!n) return n.status();
        if (*n == 0) break;
        sha.update(buf.data(), *n);
        off += static_cast<std::int64_t>(*n);
    }
    return sha.finish_hex();
}

}  // namespace

int run_verify(const std::string &manifest_path, const std::string &cache_override, bool json, std::ostream &out) {
    auto manifest = config::load_manifest(path_from_utf8(manifest_path));
    if (!manifest) {
        std::fprintf(stderr, "blobfetch: error: %s\n", manifest.message().c_str());
        return kExitBadInput;
    }
    // Secrets are not needed to look at the cache: unset variables are fine here.
    auto blobs = config::resolve_manifest(*manifest, [](std::string_view) { return std::optional<std::string>(""); });
    if (!blobs) {
        std::fprintf(stderr, "blobfetch: error: %s\n", blobs.message().c_str());
        return kExitBadInput;
    }
    const fs::path cache = cache_override.empty() ? manifest->cache_dir : path_from_utf8(cache_override);
    nlohmann::json list = nlohmann::json::array();
    std::size_t bad = 0;
    std::vector<std::string> paths;
    for (const auto &b : *blobs) paths.push_back(b.path);
    const std::vector<std::size_t> collides = spelling_collisions(paths);  // (fetch refuses the later one)
    // Looked at through directory handles (long paths, UTF-8 names, no link
    // followed below the cache), as fetch writes them.
    auto root = DirHandle::open_root(cache, /*create=*/false);
    for (std::size_t i = 0; i < blobs->size(); ++i) {
        const auto &b = (*blobs)[i];
        std::string shown = path_to_utf8((cache / path_from_utf8(b.path)).make_preferred());
        std::string verdict = "ok";
        auto dir = root ? open_rel(*root, relative_dir_of(b.path)) : Expected<std::shared_ptr<DirHandle>>(root.status());
        const std::string name = file_name_of(b.path);
        struct stat st {};
        if (dir) shown = path_to_utf8((*dir)->show(name));
        if (collides[i] != paths.size()) {
            verdict = "not fetched: names the same file as '" + paths[collides[i]] +
                      "' on Windows, where names are case-insensitive";
        } else if (!dir || (*dir)->stat(name, st) != 0 || !S_ISREG(st.st_mode)) {
            verdict = "missing";
        } else if (b.size >= 0 && static_cast<std::int64_t>(st.st_size) != b.size) {
            verdict = "wrong size (" + std::to_string(st.st_size) + " bytes, expected " + std::to_string(b.size) + ")";
        } else if (!b.sha256.empty()) {
            auto actual = sha256_in(**dir, name);
            if (!actual) verdict = "unreadable: " + actual.message();
            else if (*actual != b.sha256) verdict = "CORRUPT (SHA-256 " + *actual + ", expected " + b.sha256 + ")";
        }
        bad += verdict != "ok";
        list.push_back({{"name", b.name}, {"path", b.path}, {"verdict", verdict}});
        if (!json && verdict != "ok") out << verdict << "  " << b.name << "  " << shown << "\n";
    }
    if (json)
        print_json(out, {{"cache_dir", path_to_utf8(cache)}, {"blobs", list}, {"bad", bad}});
    else
        out << (blobs->size() - bad) << " of " << blobs->size() << " blobs in " << path_to_utf8(cache) << " verified"
            << (bad ? ", " + std::to_string(bad) + " missing or corrupt" : std::string()) << "\n";
    return bad ? kExitFailed : kExitOk;
}

}  // namespace blobfetch::host
