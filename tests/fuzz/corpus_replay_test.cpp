// Runs every fuzz target over its seed corpus (tests/fuzz/corpus/<target>/)
// in the normal build, so the seeds and every crash found by a long fuzzing
// run (saved there as a regression) are checked on each test run.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

#include "state/download_state.h"

int blobfetch_fuzz_dlstate(const std::uint8_t *data, std::size_t size);
int blobfetch_fuzz_manifest(const std::uint8_t *data, std::size_t size);
int blobfetch_fuzz_headers(const std::uint8_t *data, std::size_t size);
int blobfetch_fuzz_sources(const std::uint8_t *data, std::size_t size);

namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> slurp(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const fs::path kCorpusRoot = fs::path(BLOBFETCH_SOURCE_DIR) / "tests/fuzz/corpus";
const fs::path kCorpus = kCorpusRoot / "dlstate";

struct Target {
    const char *name;
    int (*fn)(const std::uint8_t *, std::size_t);
};

class Corpus : public ::testing::TestWithParam<Target> {};

TEST_P(Corpus, EverySeedAndSavedCrashRunsCleanly) {
    std::size_t n = 0;
    for (const auto &e : fs::directory_iterator(kCorpusRoot / GetParam().name)) {
        auto bytes = slurp(e.path());
        SCOPED_TRACE(e.path().string());
        EXPECT_EQ(GetParam().fn(bytes.data(), bytes.size()), 0);
        ++n;
    }
    EXPECT_GE(n, 5u) << "the seed corpus of " << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(FuzzTargets, Corpus,
                         ::testing::Values(Target{"dlstate", blobfetch_fuzz_dlstate},
                                           Target{"manifest", blobfetch_fuzz_manifest},
                                           Target{"headers", blobfetch_fuzz_headers},
                                           Target{"sources", blobfetch_fuzz_sources}),
                         [](const auto &info) { return std::string(info.param.name); });

// The seeds were written by a script from the byte layout documented in
// src/state/download_state.h, not by the encoder: they decode, so the
// documentation and the code agree.
TEST(DlstateCorpus, SeedsWrittenFromTheDocumentedLayout_Decode) {
    for (const char *name : {"empty-blob", "nothing-done", "prefix-and-holes", "all-done", "one-chunk"}) {
        auto bytes = slurp(kCorpus / name);
        auto s = blobfetch::decode_download_state(bytes);
        ASSERT_TRUE(s.ok()) << name << ": " << s.message();
        EXPECT_EQ(blobfetch::encode_download_state(*s), bytes) << name << ": one canonical form";
    }
    auto holes = blobfetch::decode_download_state(slurp(kCorpus / "prefix-and-holes"));
    ASSERT_TRUE(holes.ok());
    EXPECT_EQ(holes->chunks.completed(), 13u);
    EXPECT_TRUE(holes->chunks.test(20));
    EXPECT_FALSE(holes->chunks.test(11));
    EXPECT_EQ(holes->identity.etag, "\"5f1-1a\"");
    // Format v2: the received prefixes of chunks in flight.
    for (const char *name : {"v2-in-flight", "v2-one-prefix"}) {
        auto bytes = slurp(kCorpus / name);
        auto s = blobfetch::decode_download_state(bytes);
        ASSERT_TRUE(s.ok()) << name << ": " << s.message();
        EXPECT_EQ(blobfetch::encode_download_state(*s), bytes) << name << ": one canonical form";
    }
    auto flight = blobfetch::decode_download_state(slurp(kCorpus / "v2-in-flight"));
    ASSERT_TRUE(flight.ok());
    ASSERT_EQ(flight->partial.size(), 3u);
    EXPECT_EQ(flight->partial.at(2).length, 512);
    EXPECT_EQ(flight->partial.at(2).crc, 0xabcu);
    EXPECT_EQ(flight->partial.at(8).length, 9) << "the short last chunk (10 bytes)";
    EXPECT_EQ(flight->partial_bytes(), 512 + 1 + 9);
}

}  // namespace
