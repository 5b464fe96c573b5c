#include "state/download_state.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <zlib.h>

#include "support/process.h"

namespace blobfetch {
namespace {

namespace fs = std::filesystem;

Digest32 digest(std::uint8_t fill) {
    Digest32 d;
    d.fill(fill);
    return d;
}

// 20 chunks of 4 bytes plus a short last one (blob of 81 bytes): prefix of 11
// complete chunks (unaligned), and two scattered ones.
DownloadState sample() {
    DownloadState s(81, 4, digest(0xAB), digest(0xCD));
    EXPECT_EQ(s.chunks.size(), 21u);
    for (std::uint64_t i = 0; i < 11; ++i) s.complete(i, 0x1000u + static_cast<std::uint32_t>(i));
    s.complete(15, 0xDEADBEEF);
    s.complete(20, 0x12345678);
    s.identity = {"\"5f1-1a\"", "Wed, 21 Oct 2015 07:28:00 GMT"};
    return s;
}

// sample() with the received prefixes of three chunks in flight (format v2).
DownloadState sample_v2() {
    DownloadState s = sample();
    s.note_prefix(11, 3, 0xA11);
    s.note_prefix(16, 1, 0xB16);
    s.note_prefix(19, 2, 0xC19);
    EXPECT_EQ(s.partial.size(), 3u);
    return s;
}

void expect_same(const DownloadState &a, const DownloadState &b) {
    EXPECT_EQ(a.blob_size, b.blob_size);
    EXPECT_EQ(a.chunk_size, b.chunk_size);
    EXPECT_EQ(a.url_hash, b.url_hash);
    EXPECT_EQ(a.expected_sha256, b.expected_sha256);
    EXPECT_EQ(a.identity.etag, b.identity.etag);
    EXPECT_EQ(a.identity.last_modified, b.identity.last_modified);
    ASSERT_EQ(a.chunks.size(), b.chunks.size());
    EXPECT_EQ(a.chunks.completed(), b.chunks.completed());
    for (std::uint64_t i = 0; i < a.chunks.size(); ++i) {
        ASSERT_EQ(a.chunks.test(i), b.chunks.test(i)) << "chunk " << i;
        if (a.chunks.test(i)) {
            EXPECT_EQ(a.crcs[i], b.crcs[i]) << "chunk " << i;
        }
    }
    ASSERT_EQ(a.partial.size(), b.partial.size());
    for (const auto &[i, p] : a.partial) {
        ASSERT_TRUE(b.partial.count(i)) << "chunk " << i;
        EXPECT_EQ(b.partial.at(i).length, p.length) << "chunk " << i;
        EXPECT_EQ(b.partial.at(i).crc, p.crc) << "chunk " << i;
    }
}

// Rewrites the trailing record CRC so a patched field reaches the field checks.
void fix_crc(std::vector<std::uint8_t> &b) {
    uLong c = crc32(0L, b.data(), static_cast<uInt>(b.size() - 4));
    for (int i = 0; i < 4; ++i) b[b.size() - 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(c >> (8 * i));
}

void put_le(std::vector<std::uint8_t> &b, std::size_t off, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[off + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

TEST(DownloadState, RoundTrip_PrefixScatteredBitsShortLastChunkAndValidators) {
    DownloadState s = sample();
    auto bytes = encode_download_state(s);
    auto back = decode_download_state(bytes);
    ASSERT_TRUE(back.ok()) << back.message();
    expect_same(s, *back);
    EXPECT_EQ(back->completed_bytes(), 11 * 4 + 4 + 1) << "the short last chunk counts its real size";
}

TEST(DownloadState, RoundTrip_EmptyBlobAndNothingComplete) {
    for (std::int64_t size : {0, 1, 4096}) {
        DownloadState s(size, 1024, digest(1), Digest32{});
        auto back = decode_download_state(encode_download_state(s));
        ASSERT_TRUE(back.ok()) << size << ": " << back.message();
        expect_same(s, *back);
        EXPECT_EQ(back->completed_bytes(), 0);
    }
}

TEST(DownloadState, RoundTrip_AllCompleteStoresNoBitmapBytes) {
    DownloadState s(64 * 4, 4, digest(2), digest(3));
    for (std::uint64_t i = 0; i < 64; ++i) s.complete(i, static_cast<std::uint32_t>(i * 7));
    auto bytes = encode_download_state(s);
    EXPECT_EQ(bytes.size(), 132u + 4 * 64) << "an all-complete bitmap is entirely implied";
    auto back = decode_download_state(bytes);
    ASSERT_TRUE(back.ok()) << back.message();
    expect_same(s, *back);
}

TEST(DownloadState, Size_ProportionalToTheUnfinishedTail) {
    // 1M chunks, the first 999,000 complete: the bitmap part is ~125 bytes, not 125 KB.
    DownloadState s(std::int64_t{1} << 30, 1024, digest(4), Digest32{});
    for (std::uint64_t i = 0; i < 999'000; ++i) s.complete(i, 1);
    auto t = s.chunks.truncated();
    EXPECT_LE(t.bytes.size(), 1u) << "only the byte holding the first pending chunk";
    auto bytes = encode_download_state(s);
    auto back = decode_download_state(bytes);
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ(back->chunks.completed(), 999'000u);
    EXPECT_FALSE(back->chunks.test(999'000));
}

// One field of a record set to `value` (`width` bytes at `off`).
struct Patch {
    const char *what;
    std::size_t off;
    std::uint64_t value;
    int width;
};

// Each patch applied alone to `good`, the record CRC made valid again so that
// the field checks behind it are reached: refused.
template <std::size_t N>
void expect_every_patch_refused(const std::vector<std::uint8_t> &good, const Patch (&patches)[N]) {
    for (const Patch &p : patches) {
        auto b = good;
        put_le(b, p.off, p.value, p.width);
        fix_crc(b);
        EXPECT_FALSE(decode_download_state(b).ok()) << p.what;
    }
}

// Every single bit of `good` flipped: refused (the record's CRC-32 at least).
void expect_every_bit_flip_refused(const std::vector<std::uint8_t> &good) {
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            auto b = good;
            b[i] ^= static_cast<std::uint8_t>(1u << bit);
            EXPECT_FALSE(decode_download_state(b).ok()) << "byte " << i << " bit " << bit;
        }
    }
}

TEST(DownloadState, EverySingleBitFlip_IsRefused) { expect_every_bit_flip_refused(encode_download_state(sample())); }

TEST(DownloadState, EveryByteOverwritten_IsRefused) {
    const auto good = encode_download_state(sample());
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (std::uint8_t v : {std::uint8_t{0}, std::uint8_t{0xFF}}) {
            if (good[i] == v) continue;
            auto b = good;
            b[i] = v;
            EXPECT_FALSE(decode_download_state(b).ok()) << "byte " << i << " = " << int(v);
        }
    }
}

TEST(DownloadState, TruncatedAtEveryLength_OrExtended_IsRefused) {
    const auto good = encode_download_state(sample());
    for (std::size_t n = 0; n < good.size(); ++n) {
        std::vector<std::uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_FALSE(decode_download_state(b).ok()) << "length " << n;
    }
    auto longer = good;
    longer.push_back(0);
    EXPECT_FALSE(decode_download_state(longer).ok());
}

TEST(DownloadState, UnknownVersion_IsRefusedWithItsNumber) {
    auto b = encode_download_state(sample());
    put_le(b, 8, 3, 2);
    fix_crc(b);
    auto r = decode_download_state(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("unknown format version 3"), std::string::npos) << r.message();
}

// A record with no chunk in flight is written as version 1, which a build
// that reads only version 1 resumes; with one, as version 2 (24 bytes a chunk).
TEST(DownloadState, WrittenAsV1WithoutPrefixes_AndAsV2WithThem_BothRoundTrip) {
    const auto v1 = encode_download_state(sample());
    EXPECT_EQ(v1[8], 1);
    EXPECT_EQ(v1[12], 0);
    const DownloadState s = sample_v2();
    const auto v2 = encode_download_state(s);
    EXPECT_EQ(v2[8], 2);
    EXPECT_EQ(v2[12], 3) << "partial_count";
    EXPECT_EQ(v2.size(), v1.size() + 3 * 24);
    auto back = decode_download_state(v2);
    ASSERT_TRUE(back.ok()) << back.message();
    expect_same(s, *back);
    EXPECT_EQ(back->partial_bytes(), 3 + 1 + 2);
}

TEST(DownloadState, NotePrefix_KeepsOnlyWhatAPrefixCanBe_AndCompleteForgetsIt) {
    DownloadState s = sample();
    s.note_prefix(3, 2, 1);    // complete already
    s.note_prefix(12, 0, 1);   // nothing
    s.note_prefix(12, 4, 1);   // the whole chunk: complete() says so
    s.note_prefix(20, 1, 1);   // complete (the short last chunk)
    s.note_prefix(21, 1, 1);   // beyond the last chunk
    EXPECT_TRUE(s.partial.empty());
    s.note_prefix(12, 3, 7);
    s.note_prefix(12, 1, 8);   // a retry's first write: shorter, and what is there now
    ASSERT_EQ(s.partial.size(), 1u);
    EXPECT_EQ(s.partial.at(12).length, 1);
    s.complete(12, 9);
    EXPECT_TRUE(s.partial.empty());
    s.note_prefix(13, 2, 1);
    s.reset();
    EXPECT_TRUE(s.partial.empty());
    DownloadState many(std::int64_t{8} << 20, 2, digest(1), digest(2));
    for (std::uint64_t i = 0; i < DownloadState::kMaxPartials + 10; ++i) many.note_prefix(i, 1, 0);
    EXPECT_EQ(many.partial.size(), DownloadState::kMaxPartials) << "bounded";
}

TEST(DownloadState, V2_EverySingleBitFlipAndEveryTruncation_IsRefused) {
    const auto good = encode_download_state(sample_v2());
    expect_every_bit_flip_refused(good);
    for (std::size_t n = 0; n < good.size(); ++n)
        EXPECT_FALSE(decode_download_state(std::span(good.data(), n)).ok()) << "length " << n;
}

// Each partial-section field made wrong, with a valid record CRC.
TEST(DownloadState, V2_EveryPartialEntryFieldCorruptedWithAValidChecksum_IsRefused) {
    const auto good = encode_download_state(sample_v2());
    const std::size_t at = good.size() - 4 - 3 * 24;  // the first entry (chunk 11)
    const Patch patches[] = {
        {"partial_count more than the entries", 12, 4, 4},
        {"partial_count fewer than the entries", 12, 2, 4},
        {"partial_count beyond kMaxPartials", 12, DownloadState::kMaxPartials + 1, 4},
        {"chunk complete already", at, 10, 8},
        {"chunk beyond the count", at, 21, 8},
        {"chunks not ascending", at, 16, 8},
        {"chunks not ascending (second entry)", at + 24, 11, 8},
        {"length zero", at + 8, 0, 8},
        {"length of the whole chunk", at + 8, 4, 8},
        {"length beyond the chunk", at + 8, 1000, 8},
        {"reserved", at + 20, 1, 4},
        {"version 1 with entries", 8, 1, 2},
    };
    expect_every_patch_refused(good, patches);
    // The last chunk is short (1 byte): no prefix of it exists.
    DownloadState s(81, 4, digest(1), digest(2));
    s.note_prefix(19, 3, 1);
    auto b = encode_download_state(s);
    put_le(b, b.size() - 4 - 24, 20, 8);
    put_le(b, b.size() - 4 - 16, 1, 8);
    fix_crc(b);
    EXPECT_FALSE(decode_download_state(b).ok()) << "a prefix of the 1-byte last chunk";
}

// Each field corrupted with a valid record CRC: the field checks refuse it.
TEST(DownloadState, EveryFieldCorruptedWithAValidChecksum_IsRefused) {
    const auto good = encode_download_state(sample());
    const Patch patches[] = {
        {"magic", 0, 'X', 1},
        {"flags", 10, 1, 2},
        {"reserved", 12, 1, 4},
        {"blob_size (count no longer matches)", 16, 1000, 8},
        {"blob_size huge", 16, ~std::uint64_t{0}, 8},
        {"chunk_size zero", 24, 0, 8},
        {"chunk_size (count no longer matches)", 24, 8, 8},
        {"chunk_count", 32, 22, 8},
        {"completed more than popcount", 104, 14, 8},
        {"completed less than popcount", 104, 12, 8},
        {"completed beyond count", 104, 1000, 8},
        {"bitmap_start beyond the bitmap", 112, 100, 8},
        {"bitmap_start skips a pending chunk", 112, 2, 8},
        {"bitmap_len", 120, 5, 4},
        {"etag_len", 124, 3, 2},
        {"etag_len too long", 124, 5000, 2},
        {"last_modified_len", 126, 1, 2},
    };
    expect_every_patch_refused(good, patches);
}

TEST(DownloadState, BitAtOrBeyondTheChunkCount_IsRefused) {
    DownloadState s(81, 4, digest(1), digest(2));  // 21 chunks: byte 2 holds chunks 16..20
    s.complete(20, 7);
    auto b = encode_download_state(s);
    // Locate the last bitmap byte: 128 + etag 0 + lm 0 + bitmap(3 bytes from start 0) -> offset 130.
    ASSERT_EQ(b.size(), 132u + 3 + 4);
    b[130] |= 0x20;  // chunk 21: beyond the count
    fix_crc(b);
    auto r = decode_download_state(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("beyond"), std::string::npos) << r.message();
}

TEST(DownloadState, TooManyChunks_IsRefusedBeforeAllocating) {
    DownloadState s(16, 4, digest(1), digest(2));
    auto b = encode_download_state(s);
    put_le(b, 16, std::uint64_t{1} << 40, 8);  // blob size
    put_le(b, 24, 1, 8);                        // chunk size 1 byte
    put_le(b, 32, std::uint64_t{1} << 40, 8);  // matching count
    fix_crc(b);
    auto r = decode_download_state(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("too many chunks"), std::string::npos) << r.message();
}

TEST(DownloadState, SaveAndLoad_ReplacesAtomicallyAndLeavesNoTemporary) {
    test::TempDir dir;
    const fs::path p = dir / "blob.zip.dlstate";
    DownloadState s = sample();
    ASSERT_TRUE(save_download_state(p, s, true).ok());
    s.complete(11, 99);
    ASSERT_TRUE(save_download_state(p, s, true).ok());
    EXPECT_FALSE(fs::exists(download_state_temp_path(p)));
#ifndef _WIN32  // (Windows: the directory's ACL decides)
    EXPECT_EQ(fs::status(p).permissions() & fs::perms::others_all, fs::perms::none);
#endif
    auto back = load_download_state(p);
    ASSERT_TRUE(back.ok()) << back.message();
    expect_same(s, *back);
}

TEST(DownloadState, Load_MissingIsNotFound_SymlinkAndGarbageAreRefused) {
    test::TempDir dir;
    auto missing = load_download_state(dir / "none.dlstate");
    EXPECT_EQ(missing.status().code(), Errc::not_found);

    ASSERT_TRUE(save_download_state(dir / "real.dlstate", sample(), false).ok());
#ifndef _WIN32  // (neither mingw's std::filesystem nor Wine make links)
    fs::create_symlink(dir / "real.dlstate", dir / "link.dlstate");
    EXPECT_FALSE(load_download_state(dir / "link.dlstate").ok()) << "a symlinked sidecar is never followed";
#endif

    test::write_file(dir / "zeros.dlstate", std::string(300, '\0'));
    auto zeros = load_download_state(dir / "zeros.dlstate");
    ASSERT_FALSE(zeros.ok());
    EXPECT_NE(zeros.message().find("zeros.dlstate"), std::string::npos) << "errors name the file";
}

TEST(DownloadState, Remove_DeletesTheRecordAndALeftoverTemporary) {
    test::TempDir dir;
    const fs::path p = dir / "b.dlstate";
    ASSERT_TRUE(save_download_state(p, sample(), false).ok());
    test::write_file(download_state_temp_path(p).string(), "half-written");
    ASSERT_TRUE(remove_download_state(p).ok());
    EXPECT_FALSE(fs::exists(p));
    EXPECT_FALSE(fs::exists(download_state_temp_path(p)));
    EXPECT_TRUE(remove_download_state(p).ok()) << "removing nothing is fine";
}

TEST(RemoteIdentity, CompatibleAndIfRange) {
    RemoteIdentity a{"\"x\"", "Mon, 01 Jan 2024 00:00:00 GMT"};
    EXPECT_TRUE(a.compatible({"\"x\"", ""}));
    EXPECT_FALSE(a.compatible({"\"y\"", "Mon, 01 Jan 2024 00:00:00 GMT"})) << "ETags decide when both exist";
    EXPECT_FALSE(a.compatible({"", "Tue, 02 Jan 2024 00:00:00 GMT"}));
    EXPECT_FALSE(a.compatible({})) << "an answer without the known validators proves nothing (issue 19 item 2)";
    EXPECT_TRUE(RemoteIdentity{}.compatible(a)) << "nothing known yet";
    EXPECT_EQ(a.if_range(), "\"x\"");
    EXPECT_EQ((RemoteIdentity{"W/\"x\"", "Mon, 01 Jan 2024 00:00:00 GMT"}.if_range()), "")
        << "a weak ETag is never sent in If-Range, nor a date when an ETag exists (RFC 9110 13.1.5)";
    EXPECT_EQ((RemoteIdentity{"", "Mon, 01 Jan 2024 00:00:00 GMT"}.if_range()), "Mon, 01 Jan 2024 00:00:00 GMT");
    EXPECT_EQ((RemoteIdentity{"W/\"x\"", ""}.if_range()), "");
}

TEST(DownloadState, UrlIdentityIgnoresQueryAndCredentials) {
    EXPECT_EQ(url_identity_hash("https://h/a/b.zip?sig=1"), url_identity_hash("https://u:p@h/a/b.zip?sig=2"));
    EXPECT_NE(url_identity_hash("https://h/a/b.zip"), url_identity_hash("https://h/a/c.zip"));
    EXPECT_EQ(digest_from_hex("not hex"), Digest32{});
    EXPECT_EQ(digest_from_hex(std::string(64, 'F'))[31], 0xFF);
}

}  // namespace
}  // namespace blobfetch
