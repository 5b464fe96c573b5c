#include "download/partial_file.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <cerrno>
#include <cstring>
#include <vector>

#include <unistd.h>

#include "base/path_safety.h"
#include "lock/dir_lock.h"
#include "download/cache_check.h"
#include "io/file.h"

namespace blobfetch {
namespace {

constexpr std::size_t kReadPiece = 128 << 10;

// One read buffer per worker thread, allocated once (no allocation churn).
char *read_buffer() {
    thread_local std::unique_ptr<char[]> buf(new char[kReadPiece]);
    return buf.get();
}

std::string mib(std::int64_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
    return buf;
}

// Why a loaded record cannot be resumed for this descriptor, or "" when it can.
std::string mismatch(const DownloadState &st, const BlobSpec &spec, std::int64_t data_size) {
    if (st.url_hash != url_identity_hash(spec.url)) return "it was started for another URL";
    // (A hostile or corrupted record with tiny chunks would cost one request
    // per few bytes: millions of them.)
    if (st.chunk_size < DownloadState::kMinEngineChunk)
        return "its chunks of " + std::to_string(st.chunk_size) + " bytes are smaller than any this engine makes (" +
               std::to_string(DownloadState::kMinEngineChunk) + ")";
    if (spec.size >= 0 && st.blob_size != spec.size)
        return "it records " + std::to_string(st.blob_size) + " bytes but the blob has " + std::to_string(spec.size);
    if (st.expected_sha256 != expected_digest(spec)) return "it was started for another expected digest";
    // Without an expected digest nothing checks the result as a whole: bytes
    // of an earlier run are reused only when the remote can be proven the
    // same, by a strong ETag the first answer must repeat exactly.
    if (!spec.pinned() && !st.identity.strong_etag())
        return "the blob has no expected digest and the remote gave no strong ETag when it was started, so "
               "nothing recorded can be proven to be the same file";
    if (data_size < 0) return "its data file is missing";
    if (data_size != st.blob_size)
        return "its data file has " + std::to_string(data_size) + " bytes instead of " + std::to_string(st.blob_size);
    return {};
}

// The CRC-32 of bytes [begin, end) of `file`, also fed to `fold` when given.
Expected<std::uint32_t> crc_of(IPositionalWriter &file, std::int64_t begin, std::int64_t end, BlobHashes *fold,
                               const CancellationToken &cancel) {
    char *buf = read_buffer();
    std::uint32_t crc = 0;
    for (std::int64_t off = begin; off < end;) {
        if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while checking '" + file.name() + "'");
        const auto want = static_cast<std::size_t>(std::min<std::int64_t>(kReadPiece, end - off));
        auto got = file.read_at(buf, want, off);
        if (!got) return got.status();
        if (*got != want) return Status(Errc::io, "'" + file.name() + "' ended early while checking it");
        crc = crc32_update(crc, buf, want);
        if (fold) fold->update(buf, want);
        off += static_cast<std::int64_t>(want);
    }
    return crc;
}

// Re-reads every chunk the record claims and keeps only those whose CRC-32
// matches. While the claimed chunks form a prefix, they are also folded into
// `sha`, so the final verification does not read them again. The received
// prefixes of chunks that were in flight (format v2) are checked the same
// way and kept when they match, so that only the rest of such a chunk is
// fetched.
Status verify_claimed(const BlobSpec &spec, IPositionalWriter &file, DownloadState &st, Prepared &out,
                      const CancellationToken &cancel) {
    const bool hash = out.sha != nullptr;
    DownloadState kept(st.blob_size, st.chunk_size, st.url_hash, st.expected_sha256);
    kept.identity = st.identity;
    bool prefix = hash;
    for (std::uint64_t i = 0; i < st.chunks.size(); ++i) {
        if (!st.chunks.test(i)) {
            prefix = false;
            continue;
        }
        const ChunkRange r = chunk_range(i, st.blob_size, st.chunk_size);
        auto crc = crc_of(file, r.begin, r.end, prefix ? out.sha.get() : nullptr, cancel);
        if (!crc) return crc.status();
        if (*crc == st.crcs[i]) {
            kept.complete(i, *crc);
            if (prefix) out.hashed = r.end;
        } else {
            ++out.rejected_chunks;
            if (prefix) {
                // The hash already took this chunk's bad bytes: start it over;
                // the engine re-hashes the prefix once it is complete again.
                out.sha = BlobHashes::for_spec(spec);
                out.hashed = 0;
                prefix = false;
            }
        }
    }
    for (const auto &[i, p] : st.partial) {
        const std::int64_t begin = chunk_range(i, st.blob_size, st.chunk_size).begin;
        auto crc = crc_of(file, begin, begin + p.length, nullptr, cancel);
        if (!crc) return crc.status();
        if (*crc == p.crc) kept.note_prefix(i, p.length, *crc);
        else ++out.rejected_chunks;
    }
    out.resumed_bytes = kept.recorded_bytes();
    st = std::move(kept);
    return Status::success();
}

}  // namespace

std::unique_ptr<BlobHashes> BlobHashes::for_spec(const BlobSpec &spec) {
    if (!spec.pinned()) return nullptr;
    auto h = std::make_unique<BlobHashes>();
    if (!spec.sha256.empty()) h->sha256 = std::make_unique<Sha256>();
    if (!spec.sha512.empty()) h->sha512 = std::make_unique<Sha512>();
    return h;
}

void BlobHashes::update(const void *data, std::size_t len) {
    if (sha256) sha256->update(data, len);
    if (sha512) sha512->update(data, len);
}

Digest32 expected_digest(const BlobSpec &spec) {
    if (!spec.sha256.empty()) return digest_from_hex(spec.sha256);
    if (!spec.sha512.empty()) return digest_from_hex(spec.sha512.substr(0, 64));
    return Digest32{};
}

PartialPaths partial_paths(const std::filesystem::path &cache_dir, const std::string &relative_path,
                           std::string_view unique) {
    PartialPaths p;
    p.rel_dir = relative_dir_of(relative_path);
    p.final_name = file_name_of(relative_path);
    p.final_path = cache_dir / path_from_utf8(relative_path);
    return with_unique_names(p, unique);
}

std::string private_suffix() {
    // The PID is for people reading names; the random part makes the name
    // unique also across PID namespaces and hosts that share a cache.
    thread_local std::mt19937_64 rng{std::random_device{}() ^
                                     (static_cast<std::uint64_t>(::getpid()) << 32) ^
                                     static_cast<std::uint64_t>(
                                         std::chrono::steady_clock::now().time_since_epoch().count())};
    char random[17];
    std::snprintf(random, sizeof random, "%016llx", static_cast<unsigned long long>(rng()));
    return ".~bf" + std::to_string(::getpid()) + "-" + random;
}

PartialPaths with_unique_names(const PartialPaths &paths, std::string_view unique) {
    PartialPaths p = paths;
    p.private_names = !unique.empty();
    p.data_name = p.final_name + std::string(unique) + ".part";
    p.state_name = p.final_name + std::string(unique) + ".dlstate";
    p.data = p.final_path;
    p.data += std::string(unique) + ".part";
    p.state = p.final_path;
    p.state += std::string(unique) + ".dlstate";
    return p;
}

namespace {

// Below this, a blob's file is not preallocated: one write covers it, and a
// full disk is a clear error of that write.
constexpr std::int64_t kPreallocateFrom = 256 << 10;

// Removes the sidecar and its temporary. Sets `not_ours` (and succeeds) when
// they belong to someone this process may not remove them for.
Status remove_record(const PartialPaths &paths, bool &not_ours) {
    for (const std::string &name : {download_state_temp_name(paths.state_name), paths.state_name}) {
        const int e = paths.dir->unlink(name);
        if (e == 0 || e == ENOENT) continue;
        if (e == EACCES || e == EPERM) {
            not_ours = true;
            continue;
        }
        return Status(Errc::io, "cannot remove '" + paths.dir->show(name).string() + "': " + std::strerror(e));
    }
    return Status::success();
}

}  // namespace

Expected<Prepared> prepare_partial(const BlobSpec &spec, const PartialPaths &paths, TransferMode mode,
                                   std::int64_t chunk_size, bool recheck, bool verify_hash,
                                   const CancellationToken &cancel, const Logger &log) {
    Prepared out;
    out.paths = paths;
    const DirHandle &dir = *paths.dir;
    if (recheck) {
        auto cached = cached_size(dir, paths.final_name, spec, verify_hash, cancel);
        if (!cached) return cached.status();
        if (*cached >= 0) {
            out.present = *cached;
            return out;
        }
    }
    out.sha = BlobHashes::for_spec(spec);

    bool not_ours = false;
    std::optional<DownloadState> resumed;
    if (mode == TransferMode::chunked) {
        auto loaded = load_download_state(dir, paths.state_name);
        if (loaded.ok()) {
            auto file = open_positional_writer(dir, paths.data_name, {OpenMode::existing, nullptr, &not_ours});
            std::int64_t data_size = -1;
            if (file) {
                auto sz = (*file)->size();
                data_size = sz ? *sz : -1;
            }
            const std::string why = mismatch(*loaded, spec, data_size);
            if (why.empty()) {
                resumed = std::move(*loaded);
                out.file = std::move(*file);
            } else {
                log.info("not resuming '" + spec.path + "' from '" + paths.state.string() + "': " + why +
                         "; starting afresh");
            }
        } else if (loaded.status().code() != Errc::not_found) {
            log.warn(loaded.message() + "; starting '" + spec.path + "' afresh");
        }
        // A leftover record (and a leftover temporary of an interrupted
        // save) must not outlive the fresh start it no longer describes.
        if (!resumed) {
            if (Status s = remove_record(paths, not_ours); !s.ok()) return s;
        } else if (const int e = dir.unlink(download_state_temp_name(paths.state_name)); e != 0 && e != ENOENT) {
            return Status(Errc::io, "cannot remove '" + dir.show(download_state_temp_name(paths.state_name)).string() +
                                        "': " + std::strerror(e));
        }
    }
    if (!resumed) {
        if (!not_ours) {
            auto file = open_positional_writer(dir, paths.data_name,
                                               {OpenMode::fresh, nullptr, &not_ours, paths.private_names});
            for (int again = 0; !file && !not_ours && paths.private_names && again < 3; ++again) {
                out.paths = with_unique_names(paths, private_suffix());  // that private name is taken
                file = open_positional_writer(dir, out.paths.data_name, {OpenMode::fresh, nullptr, &not_ours, true});
            }
            if (file) out.file = std::move(*file);
            else if (!not_ours) return file.status();
        }
        if (not_ours) {
            // Another user's leftovers at the shared names: work beside them.
            out.went_private = true;
            out.paths = with_unique_names(paths, private_suffix());
            log.warn("'" + paths.data.string() + "' or its record belongs to another user and cannot be replaced; '" +
                     spec.path + "' is downloaded under a private name instead (not resumable); its owner can "
                     "reclaim the leftover with 'blobfetch gc'");
            auto file = open_positional_writer(dir, out.paths.data_name, {OpenMode::fresh, nullptr, nullptr, true});
            for (int again = 0; !file && again < 3; ++again) {  // (a name someone else's file has: another one)
                out.paths = with_unique_names(paths, private_suffix());
                file = open_positional_writer(dir, out.paths.data_name, {OpenMode::fresh, nullptr, nullptr, true});
            }
            if (!file) return file.status();
            out.file = std::move(*file);
        }
    }

    if (resumed) {
        const std::uint64_t claimed = resumed->chunks.completed() + resumed->partial.size();
        if (Status s = verify_claimed(spec, *out.file, *resumed, out, cancel); !s.ok()) return s;
        std::string msg = "resuming '" + spec.path + "': " + std::to_string(resumed->chunks.completed()) + " of " +
                          std::to_string(resumed->chunks.size()) + " chunks";
        if (!resumed->partial.empty())
            msg += " and the first bytes of " + std::to_string(resumed->partial.size()) + " more";
        msg += " (" + mib(out.resumed_bytes) + ") already downloaded and checked";
        msg += !spec.pinned()
                   ? "; reused only if the remote still answers ETag " + shown_validator(resumed->identity.etag)
                   : "; the expected digest checks the whole result";
        if (out.rejected_chunks)
            msg += "; " + std::to_string(out.rejected_chunks) + " of the " + std::to_string(claimed) +
                   " recorded chunks failed their CRC-32 check and will be fetched again";
        log.info(msg);
        out.state = std::move(resumed);
    } else if (mode == TransferMode::chunked && spec.size >= 0) {
        out.state.emplace(spec.size, chunk_size, url_identity_hash(spec.url), expected_digest(spec));
    }

    const std::int64_t size = out.state ? out.state->blob_size : spec.size;
    // A resumed file keeps its size; a fresh one is empty, and grows from 0
    // when the size is unknown or small.
    if (size >= kPreallocateFrom || (out.state && out.resumed_bytes > 0)) {
        if (Status s = out.file->preallocate(size); !s.ok()) {
            // A fresh start leaves nothing behind; a resumed one keeps its chunks.
            if (!out.state || out.resumed_bytes == 0) {
                out.file.reset();
                discard_partial(out.paths);
            }
            return s;
        }
    }
    return out;
}

Status checkpoint_partial(IPositionalWriter &file, const DownloadState &snapshot, const PartialPaths &paths,
                          bool durable) {
    if (durable) {
        if (Status s = file.sync(); !s.ok()) return s;
    }
    return save_download_state(*paths.dir, paths.state_name, snapshot, durable);
}

Expected<std::int64_t> hash_partial(IPositionalWriter &file, BlobHashes &sha, std::int64_t from, std::int64_t to,
                                    const CancellationToken &cancel) {
    char *buf = read_buffer();
    while (from < to) {
        if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while hashing '" + file.name() + "'");
        const auto want = static_cast<std::size_t>(std::min<std::int64_t>(kReadPiece, to - from));
        auto got = file.read_at(buf, want, from);
        if (!got) return got.status();
        if (*got != want) return Status(Errc::io, "'" + file.name() + "' ended early while hashing it");
        sha.update(buf, want);
        from += static_cast<std::int64_t>(want);
    }
    return to;
}

Status publish_partial(std::unique_ptr<IPositionalWriter> &file, const BlobSpec &spec, const PartialPaths &paths,
                       const PublishCheck &check, const CancellationToken &cancel, bool *sync_failed,
                       bool *replaced) {
    const std::string shown = redact_url(spec.url);
    const DirHandle &dir = *paths.dir;
    auto give_up = [&](Status s) {
        file.reset();
        discard_partial(paths);
        return s;
    };
    const std::int64_t landed = check.landed;
    if (landed < 0 || (check.expected_size >= 0 && landed != check.expected_size))
        return give_up(Status(Errc::verify, shown + " gave " + std::to_string(std::max<std::int64_t>(landed, 0)) +
                                                " bytes for blob '" + spec.path + "' but " +
                                                std::to_string(check.expected_size) +
                                                " were expected; nothing was published"));
    auto size = file->size();
    if (!size) return size.status();
    if (*size < landed)
        return give_up(Status(Errc::io, "'" + paths.data.string() + "' holds " + std::to_string(*size) +
                                            " bytes although " + std::to_string(landed) +
                                            " were written to it; the disk lost data, nothing was published"));
    if (*size > landed) {
        // Preallocated for more than arrived (a size learned from an older remote).
        if (Status s = file->preallocate(landed); !s.ok()) return s;
    }
    if (check.sha) {
        auto done = hash_partial(*file, *check.sha, check.hashed, landed, cancel);
        if (!done) return done.status();
        const std::pair<const char *, std::pair<Digest *, const std::string *>> checks[] = {
            {"SHA-256", {check.sha->sha256.get(), &spec.sha256}}, {"SHA-512", {check.sha->sha512.get(), &spec.sha512}}};
        for (const auto &[name, digest] : checks) {
            if (!digest.first) continue;
            const std::string actual = digest.first->finish_hex();
            if (actual == *digest.second) continue;
            return give_up(Status(Errc::verify, std::string(name) + " mismatch for blob '" + spec.path + "' from " +
                                                    shown + ": expected " + *digest.second + ", got " + actual +
                                                    "; the source holds different bytes than the descriptor says, "
                                                    "nothing was published"));
        }
    }
    if (Status s = file->make_public(); !s.ok()) return s;
    // In every mode: the final name never holds bytes that are not on disk.
    if (Status s = file->sync(); !s.ok()) {
        if (sync_failed) *sync_failed = true;
        return give_up(Status(Errc::io, s.message() + "; nothing was published"));
    }
    if (check.root && !dir.still_at(*check.root, paths.rel_dir))
        return give_up(Status(Errc::io, "the directory '" + dir.path().string() + "' was moved or replaced while '" +
                                            spec.path + "' was downloading; nothing was published in the cache, "
                                            "run again"));
    // The name must still be the file that was verified: with the lock file
    // removed by hand, another process can start the blob afresh, replacing
    // the partial file under this one (it once published that process's
    // half-written file, with exit 0).
    if (!file->named(dir.fd(), paths.data_name)) {
        file.reset();  // (the files at the names are the other process's now: left alone)
        if (replaced) *replaced = true;
        return Status(Errc::io, "'" + paths.data.string() + "' was replaced by another file while '" +
                                            spec.path + "' was downloading (was its directory's lock file '" +
                                            std::string(kLockFileName) + "' removed while in use?); nothing was published, run "
                                            "again");
    }
    // Renamed while still open: a private file stays locked by its owner
    // until it is under its final name (gc never sees it unlocked).
    const int renamed = dir.rename(paths.data_name, paths.final_name);
    file.reset();
    if (const int e = renamed; e != 0) {
        auto there = cached_size(dir, paths.final_name, spec, true, cancel);
        if (!there.ok() || *there < 0)
            return Status(Errc::io, "cannot rename '" + paths.data.string() + "' to '" + paths.final_path.string() +
                                        "': " + std::strerror(e));
        discard_partial(paths);  // another process published the same verified blob
        return Status::success();
    }
    // The record goes only after the rename: a crash in between leaves a
    // published blob and a stale record (harmless), never a complete .part
    // without its record (which would be downloaded again).
    if (check.had_record) {
        bool not_ours = false;
        if (Status s = remove_record(paths, not_ours); !s.ok()) return s;
    }
    if (!check.durable) return Status::success();
    // Its name, and the directories this fetch made for it, reach the disk.
    Status s = dir.sync();
    if (s.ok()) s = dir.sync_created();
    if (!s.ok())
        return Status(Errc::io, "'" + paths.final_path.string() + "' is published with the right bytes, but " +
                                    s.message() + ": a power loss now could lose its name; check the disk");
    return Status::success();
}

void discard_partial(const PartialPaths &paths) {
    if (!paths.dir) return;
    paths.dir->unlink(paths.data_name);
    (void)remove_download_state(*paths.dir, paths.state_name);
}

}  // namespace blobfetch
