#include "state/download_state.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>

#include "base/path_safety.h"
#include "base/printable.h"
#include "hash/crc32.h"
#include "hash/sha256.h"
#include "io/dir_handle.h"
#include "io/file.h"

namespace blobfetch {
namespace {

constexpr char kMagic[8] = {'B', 'F', 'D', 'L', 'S', 'T', 'A', 'T'};
constexpr std::size_t kFixedHeader = 128;
constexpr std::size_t kTrailer = 4;
constexpr std::size_t kPartialEntry = 24;

class Writer {
public:
    explicit Writer(std::size_t reserve) { m_out.reserve(reserve); }
    void u16(std::uint16_t v) { le(v, 2); }
    void u32(std::uint32_t v) { le(v, 4); }
    void u64(std::uint64_t v) { le(v, 8); }
    void bytes(const void *p, std::size_t n) {
        const auto *b = static_cast<const std::uint8_t *>(p);
        m_out.insert(m_out.end(), b, b + n);
    }
    std::vector<std::uint8_t> &out() { return m_out; }

private:
    void le(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) m_out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    std::vector<std::uint8_t> m_out;
};

// Reads fields in order; every read is bounds-checked by the caller's size
// checks, so a short buffer never reads out of bounds.
class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> in) : m_in(in) {}
    std::uint64_t le(int n) {
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(m_in[m_pos + i]) << (8 * i);
        m_pos += static_cast<std::size_t>(n);
        return v;
    }
    std::span<const std::uint8_t> take(std::size_t n) {
        auto s = m_in.subspan(m_pos, n);
        m_pos += n;
        return s;
    }

private:
    std::span<const std::uint8_t> m_in;
    std::size_t m_pos = 0;
};

Status bad(const std::string &why) { return Status(Errc::verify, "invalid download state: " + why); }

// An over-long validator's stand-in (see RemoteIdentity::from_response).
std::string validator_digest(std::string_view value, std::size_t limit) {
    if (value.size() <= limit) return std::string(value);
    const bool weak = value.rfind("W/", 0) == 0;
    Sha256 h;
    h.update(value.data(), value.size());
    return std::string(weak ? "W/" : "") + "#sha256 " + h.finish_hex();
}

bool is_digest_form(std::string_view v) { return v.find("#sha256 ") != std::string_view::npos; }

}  // namespace

std::string shown_validator(std::string_view value) { return printable_text(value, 100); }

RemoteIdentity RemoteIdentity::from_response(std::string_view etag, std::string_view last_modified) {
    return RemoteIdentity{validator_digest(etag, DownloadState::kMaxEtag),
                          validator_digest(last_modified, DownloadState::kMaxLastModified)};
}

bool RemoteIdentity::compatible(const RemoteIdentity &other) const {
    if (!etag.empty()) return etag == other.etag;
    if (!last_modified.empty()) return last_modified == other.last_modified;
    return true;  // nothing known yet
}

std::string RemoteIdentity::if_range() const {
    if (!etag.empty()) return strong_etag() && !is_digest_form(etag) ? etag : std::string();
    return is_digest_form(last_modified) ? std::string() : last_modified;
}

DownloadState::DownloadState(std::int64_t blob_size_, std::int64_t chunk_size_, const Digest32 &url_hash_,
                             const Digest32 &expected_sha256_)
    : blob_size(blob_size_), chunk_size(chunk_size_), url_hash(url_hash_), expected_sha256(expected_sha256_),
      chunks(chunk_count(blob_size_, chunk_size_)), crcs(chunks.size(), 0) {}

void DownloadState::complete(std::uint64_t i, std::uint32_t crc) {
    chunks.set(i);
    crcs[i] = crc;
    partial.erase(i);
}

void DownloadState::note_prefix(std::uint64_t i, std::int64_t length, std::uint32_t crc) {
    if (i >= chunks.size() || chunks.test(i) || length <= 0) return;
    const ChunkRange r = chunk_range(i, blob_size, chunk_size);
    if (length >= r.end - r.begin) return;  // complete: complete() says so
    auto it = partial.find(i);
    if (it == partial.end() && partial.size() >= kMaxPartials) return;
    partial[i] = ChunkPrefix{length, crc};
}

void DownloadState::reset() {
    chunks = ChunkBitmap(chunks.size());
    std::fill(crcs.begin(), crcs.end(), 0);
    partial.clear();
}

std::int64_t DownloadState::partial_bytes() const {
    std::int64_t n = 0;
    for (const auto &[i, p] : partial) n += p.length;
    return n;
}

std::int64_t DownloadState::completed_bytes() const {
    if (chunks.completed() == 0) return 0;
    std::int64_t n = static_cast<std::int64_t>(chunks.completed()) * chunk_size;
    // Only the last chunk can be short.
    if (chunks.test(chunks.size() - 1)) n -= static_cast<std::int64_t>(chunks.size()) * chunk_size - blob_size;
    return n;
}

std::vector<std::uint8_t> encode_download_state(const DownloadState &s) {
    const ChunkBitmap::Truncated t = s.chunks.truncated();
    const std::size_t etag_len = std::min(s.identity.etag.size(), DownloadState::kMaxEtag);
    const std::size_t lm_len = std::min(s.identity.last_modified.size(), DownloadState::kMaxLastModified);
    const std::size_t partials = s.partial.size();
    Writer w(kFixedHeader + etag_len + lm_len + t.bytes.size() + 4 * s.chunks.completed() + kPartialEntry * partials +
             kTrailer);
    w.bytes(kMagic, sizeof kMagic);
    w.u16(partials == 0 ? 1 : 2);
    w.u16(0);
    w.u32(static_cast<std::uint32_t>(partials));
    w.u64(static_cast<std::uint64_t>(s.blob_size));
    w.u64(static_cast<std::uint64_t>(s.chunk_size));
    w.u64(s.chunks.size());
    w.bytes(s.url_hash.data(), s.url_hash.size());
    w.bytes(s.expected_sha256.data(), s.expected_sha256.size());
    w.u64(s.chunks.completed());
    w.u64(t.start_byte);
    w.u32(static_cast<std::uint32_t>(t.bytes.size()));
    w.u16(static_cast<std::uint16_t>(etag_len));
    w.u16(static_cast<std::uint16_t>(lm_len));
    w.bytes(s.identity.etag.data(), etag_len);
    w.bytes(s.identity.last_modified.data(), lm_len);
    w.bytes(t.bytes.data(), t.bytes.size());
    for (std::uint64_t i = 0; i < s.chunks.size(); ++i)
        if (s.chunks.test(i)) w.u32(s.crcs[i]);
    for (const auto &[i, p] : s.partial) {
        w.u64(i);
        w.u64(static_cast<std::uint64_t>(p.length));
        w.u32(p.crc);
        w.u32(0);
    }
    w.u32(crc32_update(0, w.out().data(), w.out().size()));
    return std::move(w.out());
}

Expected<DownloadState> decode_download_state(std::span<const std::uint8_t> in) {
    if (in.size() < kFixedHeader + kTrailer)
        return bad("only " + std::to_string(in.size()) + " bytes, shorter than the fixed header");
    if (std::memcmp(in.data(), kMagic, sizeof kMagic) != 0) return bad("wrong magic (not a .dlstate file)");
    Reader r(in.subspan(sizeof kMagic));
    const auto version = static_cast<std::uint16_t>(r.le(2));
    if (version != 1 && version != 2)
        return bad("unknown format version " + std::to_string(version) + " (this build reads versions 1 and " +
                   std::to_string(DownloadState::kVersion) + ")");
    const std::uint32_t stored_crc =
        static_cast<std::uint32_t>(in[in.size() - 4]) | static_cast<std::uint32_t>(in[in.size() - 3]) << 8 |
        static_cast<std::uint32_t>(in[in.size() - 2]) << 16 | static_cast<std::uint32_t>(in[in.size() - 1]) << 24;
    if (crc32_update(0, in.data(), in.size() - kTrailer) != stored_crc) return bad("record checksum mismatch (torn or corrupted)");

    const auto flags = r.le(2);
    const std::uint64_t partials = r.le(4);  // v1: reserved
    if (flags != 0 || (version == 1 && partials != 0)) return bad("reserved fields are not zero");
    if (partials > DownloadState::kMaxPartials)
        return bad("too many partly received chunks (" + std::to_string(partials) + ")");
    const std::uint64_t blob_size = r.le(8);
    const std::uint64_t chunk_size = r.le(8);
    const std::uint64_t count = r.le(8);
    Digest32 url_hash, expected;
    auto uh = r.take(32);
    std::copy(uh.begin(), uh.end(), url_hash.begin());
    auto es = r.take(32);
    std::copy(es.begin(), es.end(), expected.begin());
    const std::uint64_t completed = r.le(8);
    const std::uint64_t start_byte = r.le(8);
    const std::uint64_t bitmap_len = r.le(4);
    const std::uint64_t etag_len = r.le(2);
    const std::uint64_t lm_len = r.le(2);

    constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 62;
    if (chunk_size == 0 || chunk_size > kMaxSize) return bad("chunk size " + std::to_string(chunk_size) + " is out of range");
    if (blob_size > kMaxSize) return bad("blob size " + std::to_string(blob_size) + " is out of range");
    if (count != chunk_count(static_cast<std::int64_t>(blob_size), static_cast<std::int64_t>(chunk_size)))
        return bad("chunk count " + std::to_string(count) + " does not match blob size " + std::to_string(blob_size) +
                   " and chunk size " + std::to_string(chunk_size));
    if (count > DownloadState::kMaxChunks) return bad("too many chunks (" + std::to_string(count) + ")");
    if (completed > count) return bad("claims more complete chunks than there are");
    if (etag_len > DownloadState::kMaxEtag || lm_len > DownloadState::kMaxLastModified)
        return bad("validator fields are too long");
    // All lengths are bounded above (count <= 2^24), so this sum cannot overflow.
    const std::uint64_t expected_size =
        kFixedHeader + etag_len + lm_len + bitmap_len + 4 * completed + kPartialEntry * partials + kTrailer;
    if (in.size() != expected_size)
        return bad("size " + std::to_string(in.size()) + " does not match its fields (" + std::to_string(expected_size) +
                   ")");

    auto etag = r.take(etag_len);
    auto lm = r.take(lm_len);
    auto bits = r.take(bitmap_len);
    auto bitmap = ChunkBitmap::from_truncated(count, start_byte, std::vector<std::uint8_t>(bits.begin(), bits.end()));
    if (!bitmap) return bad(bitmap.message());
    if (bitmap->completed() != completed)
        return bad("complete-chunk count " + std::to_string(completed) + " disagrees with the bitmap (" +
                   std::to_string(bitmap->completed()) + ")");

    DownloadState s(static_cast<std::int64_t>(blob_size), static_cast<std::int64_t>(chunk_size), url_hash, expected);
    s.identity.etag.assign(etag.begin(), etag.end());
    s.identity.last_modified.assign(lm.begin(), lm.end());
    s.chunks = std::move(*bitmap);
    for (std::uint64_t i = 0; i < count; ++i)
        if (s.chunks.test(i)) s.crcs[i] = static_cast<std::uint32_t>(r.le(4));
    std::uint64_t previous = 0;
    for (std::uint64_t k = 0; k < partials; ++k) {
        const std::uint64_t i = r.le(8);
        const std::uint64_t length = r.le(8);
        const auto crc = static_cast<std::uint32_t>(r.le(4));
        const std::uint64_t entry_reserved = r.le(4);
        const std::string which = "partly received chunk entry " + std::to_string(k);
        if (entry_reserved != 0) return bad(which + ": reserved field is not zero");
        if (i >= count) return bad(which + ": chunk " + std::to_string(i) + " is beyond the last chunk");
        if (k > 0 && i <= previous) return bad(which + ": chunks are not in strictly ascending order");
        if (s.chunks.test(i)) return bad(which + ": chunk " + std::to_string(i) + " is also recorded complete");
        const ChunkRange range = chunk_range(i, s.blob_size, s.chunk_size);
        if (length == 0 || length >= static_cast<std::uint64_t>(range.end - range.begin))
            return bad(which + ": length " + std::to_string(length) + " is not inside chunk " + std::to_string(i));
        s.partial.emplace(i, ChunkPrefix{static_cast<std::int64_t>(length), crc});
        previous = i;
    }
    return s;
}

std::string download_state_temp_name(std::string_view name) { return std::string(name) + ".tmp"; }

std::filesystem::path download_state_temp_path(const std::filesystem::path &path) {
    std::filesystem::path tmp = path;
    tmp += ".tmp";
    return tmp;
}

Status save_download_state(const DirHandle &dir, std::string_view name, const DownloadState &state, bool durable) {
    const std::vector<std::uint8_t> bytes = encode_download_state(state);
    const std::string tmp = download_state_temp_name(name);
    const std::string shown_tmp = dir.show(tmp).string();
    UniqueFd fd = dir.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!fd)
        return Status(Errc::io, "cannot write download state '" + shown_tmp + "': " + std::strerror(errno) +
                                    "; check that the cache directory is writable");
    if (Status s = write_all_at(fd.get(), bytes.data(), bytes.size(), 0, shown_tmp); !s.ok()) {
        dir.unlink(tmp);
        return s;
    }
    if (durable) {
        if (Status s = sync_file(fd.get(), shown_tmp); !s.ok()) {
            dir.unlink(tmp);
            return s;
        }
    }
    fd.reset();
    if (const int e = dir.rename(tmp, name); e != 0) {
        Status s(Errc::io, "cannot rename '" + shown_tmp + "' to '" + dir.show(name).string() + "': " + std::strerror(e));
        dir.unlink(tmp);
        return s;
    }
    return durable ? dir.sync() : Status::success();
}

Expected<DownloadState> load_download_state(const DirHandle &dir, std::string_view name) {
    const std::string shown = dir.show(name).string();
    // O_NONBLOCK: a FIFO put in its place must not hang the run (refused below).
    UniqueFd fd = dir.open(name, O_RDONLY | O_NONBLOCK);
    if (!fd) {
        if (errno == ENOENT) return Status(Errc::not_found, "no download state at '" + shown + "'");
        return Status(Errc::io, "cannot open download state '" + shown + "': " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(Errc::verify, "download state '" + shown + "' is not a regular file");
    constexpr std::uint64_t kLargest = kFixedHeader + DownloadState::kMaxEtag + DownloadState::kMaxLastModified +
                                       DownloadState::kMaxChunks / 8 + 4 * DownloadState::kMaxChunks +
                                       kPartialEntry * DownloadState::kMaxPartials + kTrailer;
    if (static_cast<std::uint64_t>(st.st_size) > kLargest)
        return Status(Errc::verify, "download state '" + shown + "' is too large to be one");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
    auto got = read_at_most(fd.get(), bytes.data(), bytes.size(), 0, shown);
    if (!got) return got.status();
    bytes.resize(*got);
    auto state = decode_download_state(bytes);
    if (!state) return Status(state.status().code(), "'" + shown + "': " + state.message());
    return state;
}

Status remove_download_state(const DirHandle &dir, std::string_view name) {
    if (Status s = dir.remove(download_state_temp_name(name)); !s.ok()) return s;
    return dir.remove(name);
}

namespace {

// The directory holding `path`, for the path-based forms.
Expected<std::shared_ptr<DirHandle>> parent_of(const std::filesystem::path &path) {
    const std::filesystem::path parent = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    return DirHandle::open_root(parent, false);
}

}  // namespace

Status save_download_state(const std::filesystem::path &path, const DownloadState &state, bool durable) {
    auto dir = parent_of(path);
    if (!dir) return Status(Errc::io, "cannot write download state '" + path.string() + "': " + dir.message());
    return save_download_state(**dir, path.filename().string(), state, durable);
}

Expected<DownloadState> load_download_state(const std::filesystem::path &path) {
    auto dir = parent_of(path);
    if (!dir) {
        if (dir.status().code() == Errc::not_found)
            return Status(Errc::not_found, "no download state at '" + path.string() + "'");
        return dir.status();
    }
    return load_download_state(**dir, path.filename().string());
}

Status remove_download_state(const std::filesystem::path &path) {
    auto dir = parent_of(path);
    if (!dir) return dir.status().code() == Errc::not_found ? Status::success() : dir.status();
    return remove_download_state(**dir, path.filename().string());
}

Digest32 url_identity_hash(std::string_view url) {
    Sha256 h;
    const std::string shown = redact_url(url);
    h.update(shown.data(), shown.size());
    return digest_from_hex(h.finish_hex());
}

Digest32 digest_from_hex(std::string_view hex) {
    Digest32 d{};
    if (!is_sha256_hex(hex)) return d;
    auto nibble = [](char c) -> std::uint8_t {
        if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
        if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
        return static_cast<std::uint8_t>(c - 'A' + 10);
    };
    for (std::size_t i = 0; i < 32; ++i)
        d[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
    return d;
}

}  // namespace blobfetch
