// The lock file's text: anyone who may fetch in a directory may write its
// lock file, so what is read back is parsed, and only the parsed fields (a
// PID, a time, a cleaned and bounded name) ever leave src/lock.
#include "lock/lock_layout.h"

#include <vector>

#include <gtest/gtest.h>

#include "lock/dir_lock.h"

namespace blobfetch::lockfile {
namespace {

const std::string kTime = "2026-01-02T03:04:05Z";

TEST(LockLayout, HolderLine_OnlyParsedFieldsAreKept_TheKeyIsDropped) {
    EXPECT_EQ(clean_holder("PID:42,Time:" + kTime), "PID:42,Time:" + kTime);
    EXPECT_EQ(clean_holder("PID:42,Time:" + kTime + ",Key:00000000000000ff,Blob:zlib.zip"),
              "PID:42,Time:" + kTime + ",Blob:zlib.zip");
    EXPECT_EQ(describe_holder("PID:42,Time:" + kTime + ",Blob:zlib.zip"),
              "PID 42 (since " + kTime + ", fetching 'zlib.zip')");
    // What holder_text() and slot_suffix() write parses back to itself.
    const std::string written = first_line(holder_text(slot_suffix(0xabcdef, "ünïcode.zip"), kSlotSize));
    const auto f = parse_holder(written);
    ASSERT_TRUE(f) << written;
    EXPECT_EQ(f->blob, "ünïcode.zip");
}

// A line that does not parse is nothing ("another process"), whatever is
// in it: escape sequences before, inside or instead of the fields.
TEST(LockLayout, HolderLineThatDoesNotParse_IsNothing) {
    for (const std::string &line : std::vector<std::string>{
             "garbage", std::string("\x1b[2JPID:42,Time:") + kTime, "PID:4\x1b[8m2,Time:" + kTime,
          "PID:42,Time:2026-01-02T03:04:05Z\x1b[31m", "PID:42,Time:2026-01-02 03:04:05", "PID:,Time:" + kTime,
          "PID:12345678901,Time:" + kTime, "PID:42,Time:" + kTime + ",Key:xyz,Blob:a",
          "PID:42,Time:" + kTime + ",Blob:", "PID:42,Time:" + kTime + ",Extra:1"}) {
        EXPECT_EQ(clean_holder(line), "") << line;
        EXPECT_EQ(describe_holder(line), "another process") << line;
    }
}

// A blob's name is shown as valid UTF-8 without C0, DEL, C1 or bidirectional
// controls (each such byte or character is '?'), and at most 80 bytes.
TEST(LockLayout, NameWithControlsInvalidUtf8OrOverlong_IsCleanedAndBounded) {
    EXPECT_EQ(printable_name("zlib-1.3.zip"), "zlib-1.3.zip");
    EXPECT_EQ(printable_name("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 stays";
    EXPECT_EQ(printable_name("\x1b]0;t\x07\x1b[2J\r\b\x7f"), "?]0;t??[2J???");
    EXPECT_EQ(printable_name("a\xc2\x9b" "1m"), "a?1m") << "C1 CSI as UTF-8";
    EXPECT_EQ(printable_name("a\x9b\xff\xfe\xc3"), "a????") << "bytes of no character";
    EXPECT_EQ(printable_name("a\xe2\x80\xaevil"), "a?vil") << "right-to-left override";
    EXPECT_EQ(printable_name("\xc0\xaf"), "??") << "an overlong encoding of '/'";
    const std::string long_name = std::string(79, 'x') + "\xc3\xa9" + std::string(50, 'y');
    const std::string shown = printable_name(long_name);
    EXPECT_EQ(shown, std::string(77, 'x') + "...");
    EXPECT_LE(printable_name(std::string(200, '\x1b')).size(), kShownNameBytes);
    const std::string cut_at_char = printable_name(std::string(76, 'x') + "\xc3\xa9\xc3\xa9" + std::string(9, 'z'));
    EXPECT_EQ(cut_at_char, std::string(76, 'x') + "...") << "never half a character";
}

}  // namespace
}  // namespace blobfetch::lockfile
