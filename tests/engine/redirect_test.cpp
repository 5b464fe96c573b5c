// Secrets go only to the origin they were configured for: a blob's request
// headers (and URL credentials) are bound to its URL's origin (scheme, host,
// port); a redirect to another origin is followed without them. Two fault
// servers on the same port, 127.0.0.1 and 127.0.0.2, are two origins that
// record every header they see. A redirect is resolved once per blob and its
// target reused for the other chunks.
#include <memory>

#include "engine_fixture.h"

namespace blobfetch::test {
namespace {

// Every header a cache may be configured with; none may reach another origin.
const char *kSecretHeaders[] = {"Authorization", "X-Api-Key", "X-JFrog-Art-Api", "PRIVATE-TOKEN",
                                "Ocp-Apim-Subscription-Key", "Cookie"};

std::string secret_headers() {
    std::string h;
    for (const char *name : kSecretHeaders) h += std::string(h.empty() ? "" : "\n") + name + ": secret-" + name;
    return h;
}

class RedirectTest : public EngineTest {
protected:
    void SetUp() override {
        try {
            other = std::make_unique<FaultServer>("127.0.0.2", server.port());
        } catch (const std::exception &e) {
            GTEST_SKIP() << "no second loopback origin: " << e.what();
        }
    }
    std::vector<RequestRecord> requests_at(const FaultServer &s, const std::string &path) const {
        std::vector<RequestRecord> out;
        for (const auto &r : s.requests())
            if (r.path == path) out.push_back(r);
        return out;
    }
    std::unique_ptr<FaultServer> other;  // same port, another host: another origin
};

TEST_F(RedirectTest, SameOriginRedirect_KeepsTheHeaders_ResolvedOncePerBlob) {
    BlobSpec b = blob("same.bin", 41, 8 * kChunk);
    server.add_redirect("/alias/same.bin", "/blobs/same.bin");  // relative: same origin
    b.url = server.base_url() + "/alias/same.bin";
    b.headers = secret_headers();
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.blobs[0].status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(41, 8 * kChunk));
    server.wait_for_requests(9);  // a response is recorded just after it was sent
    EXPECT_EQ(requests_at(server, "/alias/same.bin").size(), 1u) << "one redirect round trip for the whole blob";
    const auto served = requests_at(server, "/blobs/same.bin");
    EXPECT_EQ(served.size(), 8u);
    for (const auto &q : served)
        for (const char *name : kSecretHeaders) EXPECT_EQ(header(q, name), std::string("secret-") + name) << name;
}

TEST_F(RedirectTest, CrossOriginRedirect_IsFollowedWithoutAnyConfiguredHeaderOrUrlCredentials) {
    other->add_blob("/blobs/far.bin", 42, 8 * kChunk);
    other->add_blob("/blobs/far-small.bin", 43, 5000);
    server.add_redirect("/dl/far.bin", other->base_url() + "/blobs/far.bin");
    server.add_redirect("/dl/far-small.bin", other->base_url() + "/blobs/far-small.bin", 307);
    BlobSpec big;
    big.url = server.base_url() + "/dl/far.bin";
    big.path = "cache/far.bin";
    big.size = 8 * kChunk;
    big.sha256 = sha256_hex(blob_content(42, 8 * kChunk));
    big.headers = secret_headers();
    BlobSpec small;  // URL credentials are bound to the origin too
    small.url = "http://user:url-password@127.0.0.1:" + std::to_string(server.port()) + "/dl/far-small.bin";
    small.path = "cache/far-small.bin";
    small.size = 5000;
    small.headers = "X-Api-Key: secret-X-Api-Key";  // (an Authorization header would replace the Basic one)
    FetchResult r = fetch({big, small});
    ASSERT_TRUE(r.status.ok()) << r.blobs[0].status.message() << " / " << r.blobs[1].status.message() << logs();
    EXPECT_TRUE(published(big) == blob_content(42, 8 * kChunk));
    EXPECT_TRUE(published(small) == blob_content(43, 5000));
    server.wait_for_requests(2);
    other->wait_for_requests(9);
    // The configured origin got its headers (and the URL's credentials) ...
    for (const auto &q : requests_at(server, "/dl/far.bin")) EXPECT_EQ(header(q, "X-Api-Key"), "secret-X-Api-Key");
    auto at_origin = requests_at(server, "/dl/far-small.bin");
    ASSERT_EQ(at_origin.size(), 1u);
    EXPECT_EQ(header(at_origin[0], "Authorization").rfind("Basic ", 0), 0u) << "the URL's credentials, at home";
    // ... the other origin none of them.
    const auto far = other->requests();
    ASSERT_EQ(far.size(), 9u) << "eight chunks and one small blob";
    for (const auto &q : far) {
        for (const char *name : kSecretHeaders) EXPECT_EQ(header(q, name), "") << name << " reached " << q.path;
        EXPECT_EQ(q.headers.find("secret-"), std::string::npos) << q.headers;
        EXPECT_EQ(q.headers.find("Basic"), std::string::npos) << q.headers;
    }
    EXPECT_EQ(requests_at(server, "/dl/far.bin").size(), 1u) << "the target is resolved once, then reused";
}

TEST_F(RedirectTest, RedirectTargetThatStopsAnswering_TheBlobsOwnUrlIsAskedAgain) {
    other->add_blob("/blobs/expiring.bin", 44, 6 * kChunk);
    server.add_redirect("/dl/expiring.bin", other->base_url() + "/blobs/expiring.bin");
    // A presigned target that expires: chunk 4 is refused once.
    FaultRule expired;
    expired.path = "/blobs/expiring.bin";
    expired.range_begin = 4 * kChunk;
    expired.fault = fault(FaultKind::status, 0, 403);
    other->add_rule(expired);
    BlobSpec b;
    b.url = server.base_url() + "/dl/expiring.bin";
    b.path = "cache/expiring.bin";
    b.size = 6 * kChunk;
    b.sha256 = sha256_hex(blob_content(44, 6 * kChunk));
    // One transfer at a time: no request to the old target is in flight
    // when the refusal arrives (one that answers fine would confirm it).
    auto o = options();
    o.concurrency = 1;
    FetchResult r = fetch({b}, o);
    ASSERT_TRUE(r.status.ok()) << r.blobs[0].status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(44, 6 * kChunk));
    server.wait_for_requests(2);
    EXPECT_EQ(requests_at(server, "/dl/expiring.bin").size(), 2u) << "asked again once the target refused";
}

TEST_F(RedirectTest, RedirectToALocalFileOrAnotherScheme_IsRefused) {
    server.add_redirect("/dl/passwd", "file:///etc/passwd");
    server.add_redirect("/dl/ftp", "ftp://127.0.0.1/x");
    BlobSpec local;
    local.url = server.base_url() + "/dl/passwd";
    local.path = "cache/passwd";
    BlobSpec ftp;
    ftp.url = server.base_url() + "/dl/ftp";
    ftp.path = "cache/ftp";
    FetchResult r = fetch({local, ftp});
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(r.blobs[i].status.code(), Errc::invalid_argument) << r.blobs[i].status.message();
        EXPECT_NE(r.blobs[i].status.message().find("only http and https are followed"), std::string::npos)
            << r.blobs[i].status.message();
    }
    EXPECT_FALSE(fs::exists(final_path(local)));
    EXPECT_EQ(requests_at(server, "/dl/passwd").size(), 1u) << "no retry of a refused redirect";
}

}  // namespace
}  // namespace blobfetch::test
