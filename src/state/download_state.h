#pragma once
// The resumable-download record of one blob and its on-disk form, the
// `<file>.dlstate` sidecar.
//
// Format v2 (read: v1 and v2; written: v1 while no chunk is partly recorded,
// so that a build that reads only v1 still resumes such a record, else v2).
// Every integer is little-endian and unsigned; offsets in bytes.
//
//   off  size  field
//     0     8  magic              "BFDLSTAT"
//     8     2  version            1 or 2 (an unknown version is refused: fresh start)
//    10     2  flags              0 (reserved)
//    12     4  partial_count      v2: P, entries in the partial section, <= kMaxPartials;
//                                 v1: reserved, 0
//    16     8  blob_size          bytes of the blob (may be 0)
//    24     8  chunk_size         bytes per chunk, > 0; the last chunk may be short
//    32     8  chunk_count        = ceil(blob_size / chunk_size), at most kMaxChunks
//    40    32  url_hash           SHA-256 of the URL without credentials, query and fragment
//    72    32  expected_sha256    the descriptor's SHA-256 (else the first 32 bytes of its
//                                 SHA-512), all zero when it had neither
//   104     8  completed          number of complete chunks (= popcount of the bitmap)
//   112     8  bitmap_start       chunks [0, 8 * bitmap_start) are complete (implied)
//   120     4  bitmap_len         bytes of bitmap stored below
//   124     2  etag_len           <= kMaxEtag
//   126     2  last_modified_len  <= kMaxLastModified
//   128     E  etag               the remote's ETag as sent (quotes included), may be empty
//     .     L  last_modified      the remote's Last-Modified as sent, may be empty
//     .     B  bitmap             bytes [bitmap_start, bitmap_start + B) of the chunk bitmap:
//                                 bit i is bit (i % 8) of byte (i / 8), LSB first; no bit
//                                 may be set at or beyond chunk_count
//     .  4*C   chunk_crc32        zlib CRC-32 of each complete chunk's bytes, in
//                                 ascending chunk order, C = completed
//     . 24*P   partial            v2 only: the received prefix of chunks in flight, in
//                                 strictly ascending chunk order, each
//                                   +0  8  chunk    < chunk_count, not complete
//                                   +8  8  length   0 < length < the chunk's length:
//                                               bytes [chunk start, chunk start + length)
//                                               were written
//                                   +16 4  crc32    zlib CRC-32 of those bytes
//                                   +20 4  reserved 0
//   end-4  4   record_crc32       zlib CRC-32 of every byte before it
//
// The total size must be exactly 132 + E + L + B + 4*C + 24*P. The file stays
// proportional to the unfinished tail plus four bytes per complete chunk and
// 24 per chunk in flight. Loading validates every field and refuses the
// record on any inconsistency; the caller then starts the blob afresh. A
// partial entry is a claim like a complete chunk's: resuming re-reads its
// bytes and keeps it only when their CRC-32 matches, then asks for the rest
// of the chunk only. Versioning: a reader accepts only the versions it knows;
// a new layout gets a new version number (a v1-only reader refuses a v2
// record and starts afresh: nothing wrong is trusted, bytes are refetched).

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "state/chunk_bitmap.h"

namespace blobfetch {

class DirHandle;

using Digest32 = std::array<std::uint8_t, 32>;

// What identifies the remote bytes a download was started against.
struct RemoteIdentity {
    // As sent, e.g. "\"5f1-1a\"" or "W/\"x\""; "" when none. A value longer
    // than DownloadState::kMaxEtag is kept as its digest (from_response), so
    // that it fits the record and still compares exactly.
    std::string etag;
    std::string last_modified;  // as sent; "" when none (over-long: its digest, as for etag)

    // The identity a response's validators give. A validator longer than the
    // record can hold becomes "#sha256 <64 hex>" ("W/#sha256 ..." for a weak
    // ETag): never a valid header value (it holds a space), never sent back,
    // equal exactly when the values were equal. Pure.
    static RemoteIdentity from_response(std::string_view etag, std::string_view last_modified);

    bool empty() const { return etag.empty() && last_modified.empty(); }
    // A strong ETag: byte-for-byte identity of the representation (RFC 9110
    // 8.8.1), the only proof that two runs saw the same remote bytes.
    bool strong_etag() const { return !etag.empty() && etag.rfind("W/", 0) != 0; }
    // True when `other` (a later response) may be the same remote as this
    // one (the validators known so far): nothing is known yet (empty()), or
    // this has an ETag and `other` has the same one, or this has only a
    // Last-Modified and `other` has the same one. A validator this has and
    // `other` lacks means another remote (a response that drops its ETag
    // proves nothing). Pure.
    bool compatible(const RemoteIdentity &other) const;
    // The value for an If-Range header: a strong ETag, else Last-Modified
    // when there is no ETag at all, else "" (If-Range must not carry a weak
    // ETag, nor a date when an ETag exists; a digest form is never sent).
    std::string if_range() const;
};

// A validator (a server's ETag or Last-Modified, which the server chooses)
// as it may be shown in a message or on a terminal: printable_text(), at
// most 100 bytes. Pure.
std::string shown_validator(std::string_view value);

// The received prefix of a chunk not complete yet (format v2).
struct ChunkPrefix {
    std::int64_t length = 0;  // 0 < length < the chunk's length
    std::uint32_t crc = 0;    // CRC-32 of the chunk's first `length` bytes
};

struct DownloadState {
    static constexpr std::uint16_t kVersion = 2;  // the newest this build reads and writes
    static constexpr std::uint64_t kMaxPartials = 4096;
    // The smallest chunk the engine makes (the options' minimum): a record
    // with smaller chunks is not resumed (decoding still accepts it).
    static constexpr std::int64_t kMinEngineChunk = 64 << 10;
    static constexpr std::uint64_t kMaxChunks = std::uint64_t{1} << 24;
    static constexpr std::size_t kMaxEtag = 1024;
    static constexpr std::size_t kMaxLastModified = 256;

    // Starts an empty record (nothing complete). Preconditions: blob_size >= 0,
    // chunk_size > 0, chunk_count(blob_size, chunk_size) <= kMaxChunks.
    DownloadState(std::int64_t blob_size, std::int64_t chunk_size, const Digest32 &url_hash,
                  const Digest32 &expected_sha256);

    std::int64_t blob_size;
    std::int64_t chunk_size;
    Digest32 url_hash;
    Digest32 expected_sha256;  // all zero: unknown
    RemoteIdentity identity;
    ChunkBitmap chunks;
    std::vector<std::uint32_t> crcs;  // one per chunk; meaningful where chunks.test(i)
    // Chunks not complete whose first bytes were written, by chunk index
    // (ascending; at most kMaxPartials are kept, see note_prefix).
    std::map<std::uint64_t, ChunkPrefix> partial;

    // Marks chunk i complete with the CRC-32 of its bytes (and forgets its prefix).
    void complete(std::uint64_t i, std::uint32_t crc);
    // Records that chunk i's first `length` bytes (CRC-32 `crc`) were
    // written; a length of 0 or of the whole chunk, a complete chunk, or a
    // new chunk beyond kMaxPartials entries is not recorded.
    void note_prefix(std::uint64_t i, std::int64_t length, std::uint32_t crc);
    // Forgets every complete chunk and prefix (a fresh start with the same layout).
    void reset();
    // Bytes covered by complete chunks.
    std::int64_t completed_bytes() const;
    // Bytes covered by recorded prefixes.
    std::int64_t partial_bytes() const;
    // Bytes the record claims: complete chunks and prefixes.
    std::int64_t recorded_bytes() const { return completed_bytes() + partial_bytes(); }
};

// Serialises to the layout above (v1 when `partial` is empty, else v2).
std::vector<std::uint8_t> encode_download_state(const DownloadState &state);
// Parses and validates a record. Errors (Errc::verify) say which field is
// wrong; an unknown version says so (the caller logs it and starts afresh).
Expected<DownloadState> decode_download_state(std::span<const std::uint8_t> bytes);

// Writes the record durably, in `dir`: `<name>.tmp` (created 0600, never
// following a link), fsync, rename over `name`, fsync of the directory. With
// durable = false the two fsyncs are skipped (the record's CRC still catches
// a torn file). Errors name the file. What a crash may leave: the old record,
// the new one, or either with a `<name>.tmp` beside it (removed by the next
// prepare or `gc`); never a record that claims bytes not synced before it
// (durable mode: the engine syncs the data first). These hold under the
// conservative POSIX crash model and so under ext4 data=ordered
// (tests/crash/MODEL.md). With durable = false, under either model, the
// record may claim chunks whose bytes were lost (caught by their CRC-32 on
// resume), and the name may survive without the bytes (an empty or zeroed
// record: refused on load, removed by `gc`).
Status save_download_state(const DirHandle &dir, std::string_view name, const DownloadState &state, bool durable);
// Reads and decodes `name` in `dir` (not following a symlink; at most the
// largest possible record). Errc::not_found when there is none.
Expected<DownloadState> load_download_state(const DirHandle &dir, std::string_view name);
// Removes `name` and a leftover `<name>.tmp` of an interrupted save; missing
// files are fine.
Status remove_download_state(const DirHandle &dir, std::string_view name);
// The temporary name save_download_state writes first: `<name>.tmp`.
std::string download_state_temp_name(std::string_view name);

// The same by path (the directory holding `path` is opened first), for the
// host's cache commands and tests.
Status save_download_state(const std::filesystem::path &path, const DownloadState &state, bool durable);
Expected<DownloadState> load_download_state(const std::filesystem::path &path);
Status remove_download_state(const std::filesystem::path &path);
std::filesystem::path download_state_temp_path(const std::filesystem::path &path);

// SHA-256 of the URL as it may be shown (no credentials, query or fragment),
// so a rotated SAS token does not invalidate a partial download.
Digest32 url_identity_hash(std::string_view url);
// 64 hex digits -> 32 bytes; "" (or anything not 64 hex digits) -> zeros.
Digest32 digest_from_hex(std::string_view hex);

}  // namespace blobfetch
