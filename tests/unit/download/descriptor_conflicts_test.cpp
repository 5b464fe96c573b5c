#include "download/descriptor_conflicts.h"

#include <gtest/gtest.h>

#include "base/path_safety.h"

namespace blobfetch {
namespace {

BlobSpec spec(std::string url, std::string path, std::int64_t size = 10) {
    BlobSpec s;
    s.url = std::move(url);
    s.path = std::move(path);
    s.size = size;
    return s;
}

TEST(DescriptorConflicts, ExactDuplicates_AreNotConflicts) {
    const std::vector<BlobSpec> specs{spec("http://h/a", "d/a"), spec("http://h/a", "d/a"), spec("http://h/b", "d/b")};
    EXPECT_EQ(descriptor_conflicts(specs), (std::vector<std::size_t>{3, 3, 3}));
}

TEST(DescriptorConflicts, SamePath_AnotherUrlSizeOrDigest_TheLaterOneConflictsWithTheFirst) {
    std::vector<BlobSpec> specs{spec("http://h/a", "d/a"), spec("http://h/b", "d/a"), spec("http://h/a", "d/a", 11),
                                spec("http://h/a", "d/a"), spec("http://h/a", "d/a"), spec("http://h/a", "d/a")};
    specs[3].sha256 = std::string(64, 'a');
    specs[4].sha512 = std::string(128, 'b');
    const auto c = descriptor_conflicts(specs);
    EXPECT_EQ(c, (std::vector<std::size_t>{6, 0, 0, 0, 0, 6}));
}

TEST(DescriptorConflicts, HeadersAloneDoNotMakeAnotherBlob) {
    std::vector<BlobSpec> specs{spec("http://h/a", "a"), spec("http://h/a", "a")};
    specs[1].headers = "Authorization: Bearer x\n";
    EXPECT_EQ(descriptor_conflicts(specs), (std::vector<std::size_t>{2, 2}));
}

TEST(DescriptorConflicts, CaseOnlyDifference_ConflictsExactlyWhereNamesIgnoreCase) {
    const std::vector<BlobSpec> specs{spec("http://h/a", "d/A.bin"), spec("http://h/a", "d/a.bin")};
    EXPECT_EQ(descriptor_conflicts(specs)[1], kNamesIgnoreCase ? 0u : 2u);
}

TEST(DescriptorConflicts, Error_NamesThePathAndWhatDiffers_NeverTheQuery) {
    const Status s = descriptor_conflict_error(spec("https://h/b?sig=SECRET", "d/a"), spec("https://h/a", "d/a"));
    EXPECT_EQ(s.code(), Errc::invalid_argument);
    EXPECT_NE(s.message().find("'d/a'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("https://h/b"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("SECRET"), std::string::npos) << s.message();
    const Status t = descriptor_conflict_error(spec("https://h/a", "d/a", 5), spec("https://h/a", "d/a", -1));
    EXPECT_NE(t.message().find("size 5 here, unknown earlier"), std::string::npos) << t.message();
}

}  // namespace
}  // namespace blobfetch
