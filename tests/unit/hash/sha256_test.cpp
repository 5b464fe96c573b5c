#include "hash/sha256.h"

#include <gtest/gtest.h>

#include "support/process.h"

namespace blobfetch {
namespace {

TEST(Sha256, KnownVectors) {
    Sha256 h;
    EXPECT_EQ(h.finish_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    h.update("abc", 3);
    EXPECT_EQ(h.finish_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShot) {
    std::string data(100000, 'q');
    Sha256 a, b;
    a.update(data.data(), data.size());
    for (std::size_t i = 0; i < data.size(); i += 777) b.update(data.data() + i, std::min<std::size_t>(777, data.size() - i));
    EXPECT_EQ(a.finish_hex(), b.finish_hex());
}

TEST(Sha256, HexValidation) {
    EXPECT_TRUE(is_sha256_hex(std::string(64, 'a')));
    EXPECT_TRUE(is_sha256_hex(std::string(64, 'F')));
    EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
    EXPECT_FALSE(is_sha256_hex(std::string(65, 'a')));
    EXPECT_FALSE(is_sha256_hex(std::string(63, 'a') + "g"));
    EXPECT_EQ(lower_hex("ABcd09"), "abcd09");
}

TEST(Sha256, FileHashAndErrorsNameTheFile) {
    test::TempDir dir;
    test::write_file(dir / "f", "abc");
    auto h = sha256_file(dir / "f");
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auto missing = sha256_file(dir / "missing");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().code(), Errc::io);
    EXPECT_NE(missing.message().find("missing"), std::string::npos);
}

}  // namespace
}  // namespace blobfetch
