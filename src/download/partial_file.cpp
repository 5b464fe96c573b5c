#include "download/partial_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <unistd.h>

#include "base/path_safety.h"
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
    if (spec.size >= 0 && st.blob_size != spec.size)
        return "it records " + std::to_string(st.blob_size) + " bytes but the blob has " + std::to_string(spec.size);
    if (st.expected_sha256 != expected_digest(spec)) return "it was started for another expected digest";
    if (data_size < 0) return "its data file is missing";
    if (data_size != st.blob_size)
        return "its data file has " + std::to_string(data_size) + " bytes instead of " + std::to_string(st.blob_size);
    return {};
}

// Re-reads every chunk the record claims and keeps only those whose CRC-32
// matches. While the claimed chunks form a prefix, they are also folded into
// `sha`, so the final verification does not read them again.
Status verify_claimed(const BlobSpec &spec, IPositionalWriter &file, DownloadState &st, Prepared &out,
                      const CancellationToken &cancel) {
    const bool hash = out.sha != nullptr;
    DownloadState kept(st.blob_size, st.chunk_size, st.url_hash, st.expected_sha256);
    kept.identity = st.identity;
    bool prefix = hash;
    char *buf = read_buffer();
    for (std::uint64_t i = 0; i < st.chunks.size(); ++i) {
        if (!st.chunks.test(i)) {
            prefix = false;
            continue;
        }
        const ChunkRange r = chunk_range(i, st.blob_size, st.chunk_size);
        std::uint32_t crc = 0;
        for (std::int64_t off = r.begin; off < r.end;) {
            if (cancel.cancelled()) return Status(Errc::cancelled, "cancelled while checking '" + file.name() + "'");
            const auto want = static_cast<std::size_t>(std::min<std::int64_t>(kReadPiece, r.end - off));
            auto got = file.read_at(buf, want, off);
            if (!got) return got.status();
            if (*got != want) return Status(Errc::io, "'" + file.name() + "' ended early while checking it");
            crc = crc32_update(crc, buf, want);
            if (prefix) out.sha->update(buf, want);
            off += static_cast<std::int64_t>(want);
        }
        if (crc == st.crcs[i]) {
            kept.complete(i, crc);
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
    out.resumed_bytes = kept.completed_bytes();
    st = std::move(kept);
    return Status::success();
}

}  // namespace

std::unique_ptr<BlobHashes> BlobHashes::for_spec(const BlobSpec &spec) {
    if (spec.sha256.empty() && spec.sha512.empty()) return nullptr;
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

PartialPaths partial_paths(const std::filesystem::path &final_path, std::string_view unique) {
    PartialPaths p;
    p.final_path = final_path;
    p.data = final_path;
    p.data += std::string(unique) + ".part";
    p.state = final_path;
    p.state += std::string(unique) + ".dlstate";
    return p;
}

Expected<Prepared> prepare_partial(const BlobSpec &spec, const PartialPaths &paths, TransferMode mode,
                                   std::int64_t chunk_size, bool recheck, bool verify_hash,
                                   const CancellationToken &cancel, const Logger &log) {
    Prepared out;
    if (recheck) {
        auto cached = is_cached(paths.final_path, spec, verify_hash, cancel);
        if (!cached) return cached.status();
        if (*cached) {
            std::error_code ec;
            const auto size = std::filesystem::file_size(paths.final_path, ec);
            out.present = ec ? 0 : static_cast<std::int64_t>(size);
            return out;
        }
    }
    if (Status s = ensure_directory(paths.final_path.parent_path()); !s.ok()) return s;
    out.sha = BlobHashes::for_spec(spec);

    std::optional<DownloadState> resumed;
    if (mode == TransferMode::chunked) {
        auto loaded = load_download_state(paths.state);
        if (loaded.ok()) {
            std::error_code ec;
            auto data_size = std::filesystem::is_regular_file(paths.data, ec)
                                 ? static_cast<std::int64_t>(std::filesystem::file_size(paths.data, ec))
                                 : -1;
            if (ec) data_size = -1;
            const std::string why = mismatch(*loaded, spec, data_size);
            if (why.empty()) resumed = std::move(*loaded);
            else log.info("not resuming '" + spec.path + "' from '" + paths.state.string() + "': " + why +
                          "; starting afresh");
        } else if (loaded.status().code() != Errc::not_found) {
            log.warn(loaded.message() + "; starting '" + spec.path + "' afresh");
        }
    }
    if (!resumed) {
        // A leftover record (and a leftover temporary of an interrupted save)
        // must not outlive the fresh start it no longer describes.
        if (Status s = remove_download_state(paths.state); !s.ok()) return s;
    } else if (::unlink(download_state_temp_path(paths.state).c_str()) != 0 && errno != ENOENT) {
        return Status(Errc::io, "cannot remove '" + download_state_temp_path(paths.state).string() + "': " +
                                    std::strerror(errno));
    }

    auto file = open_positional_writer(paths.data);
    if (!file) return file.status();
    out.file = std::move(*file);

    if (resumed) {
        const std::uint64_t claimed = resumed->chunks.completed();
        if (Status s = verify_claimed(spec, *out.file, *resumed, out, cancel); !s.ok()) return s;
        std::string msg = "resuming '" + spec.path + "': " + std::to_string(resumed->chunks.completed()) + " of " +
                          std::to_string(resumed->chunks.size()) + " chunks (" + mib(out.resumed_bytes) +
                          ") already downloaded and checked";
        if (out.rejected_chunks)
            msg += "; " + std::to_string(out.rejected_chunks) + " of the " + std::to_string(claimed) +
                   " recorded chunks failed their CRC-32 check and will be fetched again";
        log.info(msg);
        out.state = std::move(resumed);
    } else if (mode == TransferMode::chunked && spec.size >= 0) {
        out.state.emplace(spec.size, chunk_size, url_identity_hash(spec.url), expected_digest(spec));
    }

    const std::int64_t size = out.state ? out.state->blob_size : spec.size;
    // Unknown size: written from 0 up.
    if (Status s = out.file->preallocate(size >= 0 ? size : 0); !s.ok()) {
        // A fresh start leaves nothing behind; a resumed one keeps its chunks.
        if (!resumed) {
            out.file.reset();
            discard_partial(paths);
        }
        return s;
    }
    return out;
}

Status checkpoint_partial(IPositionalWriter &file, const DownloadState &snapshot, const PartialPaths &paths,
                          bool durable) {
    if (durable) {
        if (Status s = file.sync(); !s.ok()) return s;
    }
    return save_download_state(paths.state, snapshot, durable);
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
                       std::int64_t expected_size, std::int64_t landed, BlobHashes *sha, std::int64_t hashed,
                       bool durable, const CancellationToken &cancel) {
    const std::string shown = redact_url(spec.url);
    if (landed < 0 || (expected_size >= 0 && landed != expected_size)) {
        file.reset();
        discard_partial(paths);
        return Status(Errc::verify, shown + " gave " + std::to_string(std::max<std::int64_t>(landed, 0)) +
                                        " bytes for blob '" + spec.path + "' but " + std::to_string(expected_size) +
                                        " were expected; nothing was published");
    }
    auto size = file->size();
    if (!size) return size.status();
    if (*size < landed) {
        file.reset();
        discard_partial(paths);
        return Status(Errc::io, "'" + paths.data.string() + "' holds " + std::to_string(*size) + " bytes although " +
                                    std::to_string(landed) +
                                    " were written to it; the disk lost data, nothing was published");
    }
    if (*size > landed) {
        // Preallocated for more than arrived (a size learned from an older remote).
        if (Status s = file->preallocate(landed); !s.ok()) return s;
    }
    if (sha) {
        auto done = hash_partial(*file, *sha, hashed, landed, cancel);
        if (!done) return done.status();
        const std::pair<const char *, std::pair<Digest *, const std::string *>> checks[] = {
            {"SHA-256", {sha->sha256.get(), &spec.sha256}}, {"SHA-512", {sha->sha512.get(), &spec.sha512}}};
        for (const auto &[name, check] : checks) {
            if (!check.first) continue;
            const std::string actual = check.first->finish_hex();
            if (actual == *check.second) continue;
            file.reset();
            discard_partial(paths);
            return Status(Errc::verify, std::string(name) + " mismatch for blob '" + spec.path + "' from " + shown +
                                            ": expected " + *check.second + ", got " + actual +
                                            "; the source holds different bytes than the descriptor says, "
                                            "nothing was published");
        }
    }
    if (Status s = file->make_public(); !s.ok()) return s;
    if (durable) {
        if (Status s = file->sync(); !s.ok()) return s;
    }
    file.reset();
    if (::rename(paths.data.c_str(), paths.final_path.c_str()) != 0) {
        const int e = errno;
        auto there = is_cached(paths.final_path, spec, true, cancel);
        if (!there.ok() || !*there)
            return Status(Errc::io, "cannot rename '" + paths.data.string() + "' to '" + paths.final_path.string() +
                                        "': " + std::strerror(e));
        discard_partial(paths);  // another process published the same verified blob
        return Status::success();
    }
    // The record goes only after the rename: a crash in between leaves a
    // published blob and a stale record (harmless), never a complete .part
    // without its record (which would be downloaded again).
    if (Status s = remove_download_state(paths.state); !s.ok()) return s;
    return sync_directory(paths.final_path.parent_path());
}

void discard_partial(const PartialPaths &paths) {
    ::unlink(paths.data.c_str());
    (void)remove_download_state(paths.state);
}

}  // namespace blobfetch
