#include <deque>
#include <filesystem>
#include <functional>

#include <gtest/gtest.h>

#include "download/blob_downloader.h"
#include "support/blob_content.h"
#include "support/process.h"

namespace blobfetch {
namespace {

namespace fs = std::filesystem;

// A scripted transport: each perform() plays the next step.
struct Step {
    Status status;                 // outcome after the body
    bool retryable = false;
    std::string body;              // delivered when status is ok or body is non-empty
    std::int64_t content_length = -1;
    std::optional<std::chrono::seconds> retry_after;
};

class ScriptedTransport final : public ITransport {
public:
    explicit ScriptedTransport(std::deque<Step> steps) : m_steps(std::move(steps)) {}
    TransferOutcome perform(const HttpRequest &, IBodySink &sink, const CancellationToken &cancel) override {
        ++calls;
        TransferOutcome out;
        if (cancel.cancelled()) {
            out.status = Status(Errc::cancelled, "cancelled");
            return out;
        }
        Step step = m_steps.front();
        m_steps.pop_front();
        out.head.content_length = step.content_length;
        out.head.retry_after = step.retry_after;
        if (step.status.ok() || !step.body.empty()) {
            if (Status s = sink.on_response(out.head); !s.ok()) {
                out.status = s;
                return out;
            }
            if (Status s = sink.on_body(step.body.data(), step.body.size()); !s.ok()) {
                out.status = s;
                return out;
            }
            out.body_bytes = static_cast<std::int64_t>(step.body.size());
        }
        out.status = step.status;
        out.retryable = step.retryable;
        return out;
    }
    int calls = 0;

private:
    std::deque<Step> m_steps;
};

class StreamBlobDownloaderTest : public ::testing::Test {
protected:
    BlobOutcome run(ScriptedTransport &t, const BlobSpec &spec, const CancellationToken &cancel = {}) {
        BlobDownloadOptions o;
        o.retry.max_retries = 3;
        o.retry.base_delay = std::chrono::milliseconds(1);
        auto d = make_stream_blob_downloader(o);
        FetchProgress progress({spec.size});
        return d->download(spec, 0, fs::path(m_dir.path()) / spec.path, t, progress, cancel, Logger{});
    }
    std::vector<std::string> files() const {
        std::vector<std::string> out;
        for (const auto &e : fs::recursive_directory_iterator(m_dir.path()))
            if (e.is_regular_file()) out.push_back(e.path().filename().string());
        return out;
    }
    BlobSpec spec_for(const std::string &content) const {
        return BlobSpec{"http://h/x?sig=SECRET", "pkg/x.zip", static_cast<std::int64_t>(content.size()),
                        test::sha256_hex(content), {}};
    }
    test::TempDir m_dir;
};

TEST_F(StreamBlobDownloaderTest, PublishesVerifiedContent) {
    std::string content = test::blob_content(1, 5000);
    ScriptedTransport t({Step{Status::success(), false, content, 5000, {}}});
    BlobOutcome o = run(t, spec_for(content));
    ASSERT_TRUE(o.status.ok()) << o.status.message();
    EXPECT_EQ(o.bytes_downloaded, 5000);
    EXPECT_EQ(test::read_file(m_dir / "pkg/x.zip"), content);
    EXPECT_EQ(files(), std::vector<std::string>{"x.zip"});
}

TEST_F(StreamBlobDownloaderTest, RetriesTransientFailuresFromScratch) {
    std::string content = test::blob_content(2, 3000);
    ScriptedTransport t({Step{Status(Errc::network, "reset"), true, content.substr(0, 1000), -1, {}},
                         Step{Status(Errc::http, "HTTP 503"), true, "", -1, std::chrono::seconds(0)},
                         Step{Status::success(), false, content, 3000, {}}});
    BlobOutcome o = run(t, spec_for(content));
    ASSERT_TRUE(o.status.ok()) << o.status.message();
    EXPECT_EQ(t.calls, 3);
    EXPECT_EQ(test::read_file(m_dir / "pkg/x.zip"), content);
}

TEST_F(StreamBlobDownloaderTest, GivesUpAfterMaxRetriesAndSaysSo) {
    std::deque<Step> steps(4, Step{Status(Errc::http, "HTTP 500 from http://h/x"), true, "", -1, {}});
    ScriptedTransport t(steps);
    BlobOutcome o = run(t, spec_for("abc"));
    EXPECT_EQ(o.status.code(), Errc::http);
    EXPECT_NE(o.status.message().find("gave up after 4 attempts"), std::string::npos) << o.status.message();
    EXPECT_TRUE(files().empty()) << "no temporary file is left behind";
}

TEST_F(StreamBlobDownloaderTest, NotFoundIsNotRetried) {
    ScriptedTransport t({Step{Status(Errc::not_found, "HTTP 404"), false, "", -1, {}}});
    BlobOutcome o = run(t, spec_for("abc"));
    EXPECT_EQ(o.status.code(), Errc::not_found);
    EXPECT_EQ(t.calls, 1);
}

TEST_F(StreamBlobDownloaderTest, HashMismatchPublishesNothingAndNamesBothHashes) {
    std::string content = test::blob_content(3, 100);
    std::string wrong = test::blob_content(4, 100);
    ScriptedTransport t({Step{Status::success(), false, wrong, 100, {}}});
    BlobOutcome o = run(t, spec_for(content));
    EXPECT_EQ(o.status.code(), Errc::verify);
    EXPECT_NE(o.status.message().find(test::sha256_hex(content)), std::string::npos);
    EXPECT_NE(o.status.message().find(test::sha256_hex(wrong)), std::string::npos);
    EXPECT_NE(o.status.message().find("pkg/x.zip"), std::string::npos);
    EXPECT_EQ(o.status.message().find("SECRET"), std::string::npos) << "the query string is redacted";
    EXPECT_TRUE(files().empty());
}

TEST_F(StreamBlobDownloaderTest, AnnouncedLengthMismatchFailsBeforeWriting) {
    ScriptedTransport t({Step{Status::success(), false, "<html>error</html>", 18, {}}});
    BlobOutcome o = run(t, spec_for(std::string(5000, 'x')));
    EXPECT_EQ(o.status.code(), Errc::verify);
    EXPECT_NE(o.status.message().find("announced 18 bytes"), std::string::npos) << o.status.message();
    EXPECT_TRUE(files().empty());
}

TEST_F(StreamBlobDownloaderTest, OversizedBodyIsCutOff_TruncatedBodyIsRefused) {
    ScriptedTransport big({Step{Status::success(), false, std::string(200, 'x'), -1, {}}});
    EXPECT_EQ(run(big, spec_for(std::string(100, 'x'))).status.code(), Errc::verify);
    ScriptedTransport small({Step{Status::success(), false, std::string(50, 'x'), -1, {}}});
    BlobOutcome o = run(small, spec_for(std::string(100, 'x')));
    EXPECT_EQ(o.status.code(), Errc::verify);
    EXPECT_NE(o.status.message().find("truncated"), std::string::npos);
    EXPECT_TRUE(files().empty());
}

TEST_F(StreamBlobDownloaderTest, EmptyBlobIsPublished) {
    ScriptedTransport t({Step{Status::success(), false, "", 0, {}}});
    BlobOutcome o = run(t, spec_for(""));
    ASSERT_TRUE(o.status.ok()) << o.status.message();
    EXPECT_TRUE(fs::exists(m_dir / "pkg/x.zip"));
    EXPECT_EQ(fs::file_size(m_dir / "pkg/x.zip"), 0u);
}

TEST_F(StreamBlobDownloaderTest, CancelDuringBackoffStopsAtOnce) {
    CancellationSource src;
    std::deque<Step> steps(2, Step{Status(Errc::http, "HTTP 503"), true, "", -1, std::chrono::seconds(3600)});
    ScriptedTransport t(steps);
    std::thread canceller([&] { src.cancel(); });
    BlobOutcome o = run(t, spec_for("abc"), src.token());
    canceller.join();
    EXPECT_EQ(o.status.code(), Errc::cancelled);
    EXPECT_TRUE(files().empty());
}

}  // namespace
}  // namespace blobfetch
