// Self-tests of the fault-injecting test server (support/fault_server.h),
// observed on the wire with a raw-socket client so that nothing between the
// test and the server can hide a byte.
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/wait.h"

namespace blobfetch::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
    for (char &c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// Bytes [offset, offset+len) of blob `seed`.
std::string blob_slice(std::uint64_t seed, std::uint64_t offset, std::size_t len) {
    std::string s(len, '\0');
    blob_bytes(seed, offset, s.data(), len);
    return s;
}

// Byte-exact comparison that reports the first difference instead of
// printing megabytes of binary.
::testing::AssertionResult same_bytes(const std::string &actual, const std::string &expected) {
    if (actual == expected) return ::testing::AssertionSuccess();
    std::size_t i = 0;
    while (i < actual.size() && i < expected.size() && actual[i] == expected[i]) ++i;
    auto out = ::testing::AssertionFailure();
    out << "got " << actual.size() << " bytes, expected " << expected.size() << "; first difference at " << i;
    if (actual.size() < 200) out << "; got: " << ::testing::PrintToString(actual);
    return out;
}

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-cased names
    std::string body;

    bool has(const std::string &name) const { return headers.count(lower(name)) != 0; }
    std::string header(const std::string &name) const {
        auto it = headers.find(lower(name));
        return it == headers.end() ? "" : it->second;
    }
    std::size_t content_length() const { return static_cast<std::size_t>(std::stoull(header("Content-Length"))); }
};

// One blocking TCP connection speaking just enough HTTP/1.1 to see exactly
// what the server sent. Every read is bounded by a 10 s receive timeout, so a
// misbehaving server fails the test instead of hanging it.
class RawClient {
public:
    explicit RawClient(int port) : RawClient("127.0.0.1", port) {}
    // Connects to a dotted IPv4 `host` (e.g. "127.0.0.2").
    RawClient(const std::string &host, int port) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
            throw std::runtime_error("not an IPv4 address: " + host);
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (m_fd < 0) throw std::runtime_error("socket failed");
        timeval tv{10, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (::connect(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
            ::close(m_fd);
            throw std::runtime_error(std::string("connect failed: ") + std::strerror(errno));
        }
    }
    ~RawClient() { close(); }
    RawClient(const RawClient &) = delete;
    RawClient &operator=(const RawClient &) = delete;

    void close() {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = -1;
    }

    void send_text(const std::string &text) {
        std::size_t off = 0;
        while (off < text.size()) {
            ssize_t n = ::send(m_fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
            off += static_cast<std::size_t>(n);
        }
    }

    static std::string request_text(const std::string &method, const std::string &path,
                                    const std::vector<std::string> &headers) {
        std::string text = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        for (const auto &h : headers) text += h + "\r\n";
        return text + "\r\n";
    }

    void send_request(const std::string &method, const std::string &path,
                      const std::vector<std::string> &headers = {}) {
        send_text(request_text(method, path, headers));
    }

    // Reads a status line and header block; false if the connection ended first.
    bool read_head(Response &out) {
        std::size_t end;
        while ((end = m_buf.find("\r\n\r\n")) == std::string::npos)
            if (!fill()) return false;
        std::string head = m_buf.substr(0, end);
        m_buf.erase(0, end + 4);
        std::size_t nl = head.find("\r\n");
        std::string status_line = head.substr(0, nl);
        out.status = std::stoi(status_line.substr(9, 3));
        while (nl != std::string::npos) {
            std::size_t start = nl + 2;
            nl = head.find("\r\n", start);
            std::string line = head.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
            std::size_t colon = line.find(':');
            std::size_t v = line.find_first_not_of(' ', colon + 1);
            out.headers[lower(line.substr(0, colon))] = v == std::string::npos ? "" : line.substr(v);
        }
        return true;
    }

    // Appends up to n body bytes to `out`; fewer only when the connection ended.
    void read_body(std::size_t n, std::string &out) {
        while (m_buf.size() < n)
            if (!fill()) break;
        std::size_t k = std::min(n, m_buf.size());
        out.append(m_buf, 0, k);
        m_buf.erase(0, k);
    }

    // Everything until the connection ends.
    std::string read_to_end() {
        while (fill()) {
        }
        std::string out;
        out.swap(m_buf);
        return out;
    }

    // A request and its complete response (Content-Length framed; no body for HEAD).
    Response exchange(const std::string &method, const std::string &path,
                      const std::vector<std::string> &headers = {}) {
        send_request(method, path, headers);
        return read_response(method == "HEAD");
    }
    Response get(const std::string &path, const std::vector<std::string> &headers = {}) {
        return exchange("GET", path, headers);
    }
    Response read_response(bool head_only = false) {
        Response r;
        if (!read_head(r)) return r;
        if (!head_only && r.has("Content-Length")) read_body(r.content_length(), r.body);
        return r;
    }

    bool ended() const { return m_ended; }
    int end_errno() const { return m_errno; }  // 0: orderly EOF

private:
    bool fill() {
        if (m_ended) return false;
        char buf[64 * 1024];
        for (;;) {
            ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
            if (n > 0) {
                m_buf.append(buf, static_cast<std::size_t>(n));
                return true;
            }
            if (n < 0 && errno == EINTR) continue;
            m_ended = true;
            m_errno = n == 0 ? 0 : errno;
            return false;
        }
    }

    int m_fd = -1;
    std::string m_buf;
    bool m_ended = false;
    int m_errno = 0;
};

constexpr std::uint64_t kSeed = 42;
constexpr std::size_t kSize = (1 << 20) + 7;  // more than one 256 KiB piece, odd length

// A server on 127.0.0.2 (on `port`, 0: ephemeral), or nullptr when that
// address cannot be bound here (a loopback that is only 127.0.0.1/32);
// `why` then says what the bind reported.
std::unique_ptr<FaultServer> server_on_127_0_0_2(int port, std::string &why) {
    try {
        return std::make_unique<FaultServer>("127.0.0.2", port);
    } catch (const std::runtime_error &e) {
        why = e.what();
        return nullptr;
    }
}

TEST(FaultServer, FullGet_ByteExactWithValidators) {
    FaultServer server;
    server.add_blob("/a/b.bin", kSeed, kSize);
    RawClient client(server.port());
    Response r = client.get("/a/b.bin");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(kSize));
    EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
    EXPECT_EQ(r.header("ETag"), server.etag("/a/b.bin"));
    EXPECT_EQ(r.header("ETag").front(), '"');
    EXPECT_EQ(r.header("Last-Modified"), server.last_modified("/a/b.bin"));
    EXPECT_NE(r.header("Last-Modified").find(" GMT"), std::string::npos);
    EXPECT_FALSE(r.has("Content-Range"));
    ASSERT_EQ(r.body.size(), kSize);
    EXPECT_EQ(sha256_hex(r.body), sha256_hex(blob_content(kSeed, kSize)));
    EXPECT_EQ(server.base_url(), "http://127.0.0.1:" + std::to_string(server.port()));
}

TEST(FaultServer, Head_HeadersWithoutBody) {
    FaultServer server;
    server.add_blob("/h", kSeed, 5000);
    RawClient client(server.port());
    Response head = client.exchange("HEAD", "/h");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), "5000");
    EXPECT_TRUE(head.has("ETag"));
    // A body after the HEAD response would corrupt the next response on the connection.
    Response get = client.get("/h", {"Range: bytes=0-9"});
    EXPECT_EQ(get.status, 206);
    EXPECT_TRUE(same_bytes(get.body, blob_slice(kSeed, 0, 10)));
    auto records = server.wait_for_requests(2);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].method, "HEAD");
    EXPECT_EQ(records[0].body_bytes_sent, 0);
}

TEST(FaultServer, Range_MiddleByteExactWithContentRange) {
    FaultServer server;
    server.add_blob("/r", kSeed, kSize);
    RawClient client(server.port());
    Response r = client.get("/r", {"Range: bytes=300000-599999"});
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Range"), "bytes 300000-599999/" + std::to_string(kSize));
    EXPECT_EQ(r.header("Content-Length"), "300000");
    EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 300000, 300000)));
}

TEST(FaultServer, Range_OpenEndedSuffixAndClampedEnd) {
    FaultServer server;
    server.add_blob("/r", kSeed, 1000);
    RawClient client(server.port());

    Response open = client.get("/r", {"Range: bytes=900-"});
    EXPECT_EQ(open.status, 206);
    EXPECT_EQ(open.header("Content-Range"), "bytes 900-999/1000");
    EXPECT_TRUE(same_bytes(open.body, blob_slice(kSeed, 900, 100)));

    Response suffix = client.get("/r", {"Range: bytes=-10"});
    EXPECT_EQ(suffix.status, 206);
    EXPECT_EQ(suffix.header("Content-Range"), "bytes 990-999/1000");
    EXPECT_TRUE(same_bytes(suffix.body, blob_slice(kSeed, 990, 10)));

    Response long_suffix = client.get("/r", {"Range: bytes=-5000"});
    EXPECT_EQ(long_suffix.header("Content-Range"), "bytes 0-999/1000");
    EXPECT_EQ(long_suffix.body.size(), 1000u);

    Response clamped = client.get("/r", {"Range: bytes=995-5000"});
    EXPECT_EQ(clamped.status, 206);
    EXPECT_EQ(clamped.header("Content-Range"), "bytes 995-999/1000");
    EXPECT_TRUE(same_bytes(clamped.body, blob_slice(kSeed, 995, 5)));
}

TEST(FaultServer, Range_MultipleOrMalformedIgnored) {
    FaultServer server;
    server.add_blob("/r", kSeed, 1000);
    RawClient client(server.port());
    for (const char *value : {"bytes=0-9,20-29", "bytes=abc", "items=0-9", "bytes=9-0", "bytes=", "bytes=-"}) {
        Response r = client.get("/r", {std::string("Range: ") + value});
        EXPECT_EQ(r.status, 200) << value;
        EXPECT_FALSE(r.has("Content-Range")) << value;
        EXPECT_TRUE(same_bytes(r.body, blob_content(kSeed, 1000))) << value;
    }
}

TEST(FaultServer, Range_StartingAtSizeIs416) {
    FaultServer server;
    server.add_blob("/r", kSeed, 1000);
    RawClient client(server.port());
    Response r = client.get("/r", {"Range: bytes=1000-"});
    EXPECT_EQ(r.status, 416);
    EXPECT_EQ(r.header("Content-Range"), "bytes */1000");
    EXPECT_EQ(r.body.size(), r.content_length());
    // The connection stays usable after a 416.
    EXPECT_TRUE(same_bytes(client.get("/r", {"Range: bytes=999-"}).body, blob_slice(kSeed, 999, 1)));
}

TEST(FaultServer, EmptyBlob_AnyRangeIs416) {
    FaultServer server;
    server.add_blob("/empty", kSeed, 0);
    RawClient client(server.port());
    for (const char *value : {"bytes=0-", "bytes=0-0", "bytes=-5"}) {
        Response r = client.get("/empty", {std::string("Range: ") + value});
        EXPECT_EQ(r.status, 416) << value;
        EXPECT_EQ(r.header("Content-Range"), "bytes */0") << value;
    }
    Response whole = client.get("/empty");
    EXPECT_EQ(whole.status, 200);
    EXPECT_EQ(whole.header("Content-Length"), "0");
    EXPECT_TRUE(whole.body.empty());
}

TEST(FaultServer, KeepAlive_TwoRequestsOneConnection) {
    FaultServer server;
    server.add_blob("/k", kSeed, 70000);
    RawClient client(server.port());
    EXPECT_TRUE(same_bytes(client.get("/k").body, blob_content(kSeed, 70000)));
    EXPECT_TRUE(same_bytes(client.get("/k", {"Range: bytes=10-19"}).body, blob_slice(kSeed, 10, 10)));
    EXPECT_EQ(server.connections_accepted(), 1u);
    EXPECT_EQ(server.active_connections(), 1);
    auto records = server.wait_for_requests(2);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].connection, 1u);
    EXPECT_EQ(records[1].connection, 1u);
    EXPECT_EQ(records[0].status, 200);
    EXPECT_EQ(records[1].status, 206);
    EXPECT_EQ(records[1].range, "bytes=10-19");
}

TEST(FaultServer, ConnectionClose_HonouredAfterResponse) {
    FaultServer server;
    server.add_blob("/c", kSeed, 100);
    RawClient client(server.port());
    Response r = client.get("/c", {"connection: close"});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(lower(r.header("Connection")), "close");
    EXPECT_TRUE(same_bytes(r.body, blob_content(kSeed, 100)));
    EXPECT_EQ(client.read_to_end(), "");
    EXPECT_EQ(client.end_errno(), 0);
    EXPECT_TRUE(eventually([&] { return server.active_connections() == 0; }));
}

TEST(FaultServer, Pipelining_RequestsAnsweredInOrder) {
    FaultServer server;
    server.add_blob("/p", kSeed, 1000);
    RawClient client(server.port());
    client.send_text(RawClient::request_text("GET", "/p", {"Range: bytes=0-1"}) +
                     RawClient::request_text("GET", "/missing", {}) +
                     RawClient::request_text("GET", "/p", {"Range: bytes=500-502"}));
    Response a = client.read_response(), b = client.read_response(), c = client.read_response();
    EXPECT_TRUE(same_bytes(a.body, blob_slice(kSeed, 0, 2)));
    EXPECT_EQ(b.status, 404);
    EXPECT_TRUE(same_bytes(c.body, blob_slice(kSeed, 500, 3)));
    EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(FaultServer, UnknownPath_404Html) {
    FaultServer server;
    RawClient client(server.port());
    Response r = client.get("/nope");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.header("Content-Type"), "text/html");
    EXPECT_NE(r.body.find("404"), std::string::npos);
    EXPECT_FALSE(r.has("ETag"));
    EXPECT_EQ(server.body_bytes_sent("/nope"), 0) << "error pages are not blob bytes";
    // Other methods get 405; the request body is consumed, so the connection stays in step.
    client.send_text(RawClient::request_text("POST", "/nope", {"Content-Length: 3"}) + "abc");
    Response post = client.read_response();
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("Allow"), "GET, HEAD");
    EXPECT_EQ(client.get("/nope").status, 404);
}

TEST(FaultServer, IfRange_MismatchIgnoresRange) {
    FaultServer server;
    server.add_blob("/i", kSeed, 1000);
    const std::string etag = server.etag("/i"), date = server.last_modified("/i");
    RawClient client(server.port());

    Response stale = client.get("/i", {"Range: bytes=100-199", "If-Range: \"other\""});
    EXPECT_EQ(stale.status, 200);
    EXPECT_TRUE(same_bytes(stale.body, blob_content(kSeed, 1000)));

    Response weak = client.get("/i", {"Range: bytes=100-199", "If-Range: W/" + etag});
    EXPECT_EQ(weak.status, 200) << "only the exact strong ETag matches";

    Response by_etag = client.get("/i", {"Range: bytes=100-199", "If-Range: " + etag});
    EXPECT_EQ(by_etag.status, 206);
    EXPECT_TRUE(same_bytes(by_etag.body, blob_slice(kSeed, 100, 100)));

    Response by_date = client.get("/i", {"Range: bytes=100-199", "If-Range: " + date});
    EXPECT_EQ(by_date.status, 206);

    Response past_end = client.get("/i", {"Range: bytes=5000-", "If-Range: \"other\""});
    EXPECT_EQ(past_end.status, 200) << "a failed If-Range drops the Range before it can be unsatisfiable";
}

TEST(FaultServer, ChangeBlob_NewContentAndValidators) {
    FaultServer server;
    server.add_blob("/c", 1, 1000);
    const std::string old_etag = server.etag("/c");
    server.change_blob("/c", 2, 1500);
    EXPECT_NE(server.etag("/c"), old_etag);
    RawClient client(server.port());
    Response r = client.get("/c", {"Range: bytes=10-", "If-Range: " + old_etag});
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(same_bytes(r.body, blob_content(2, 1500)));

    server.change_blob("/c", 2, 1500, "custom-tag");
    EXPECT_EQ(client.get("/c").header("ETag"), "\"custom-tag\"");
}

TEST(FaultServer, SendEtagOff_NoValidatorsAndIfRangeNeverMatches) {
    FaultServer server;
    server.add_blob("/n", kSeed, 1000);
    server.set_send_etag(false);
    RawClient client(server.port());
    Response plain = client.get("/n", {"Range: bytes=0-9"});
    EXPECT_EQ(plain.status, 206);
    EXPECT_FALSE(plain.has("ETag"));
    EXPECT_FALSE(plain.has("Last-Modified"));
    Response guarded = client.get("/n", {"Range: bytes=0-9", "If-Range: " + server.etag("/n")});
    EXPECT_EQ(guarded.status, 200);
}

TEST(FaultServer, Parsing_LargeHeadersAcceptedOversizeRejected) {
    FaultServer server;
    server.add_blob("/big", kSeed, 100);
    {
        RawClient client(server.port());
        Response r = client.get("/big?x=1", {"X-Pad: " + std::string(16 * 1024, 'p'), "rAnGe:   bytes=1-2  "});
        EXPECT_EQ(r.status, 206);
        EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 1, 2)));
    }
    {
        RawClient client(server.port());
        Response r = client.get("/big", {"X-Pad: " + std::string(64 * 1024, 'p')});
        EXPECT_EQ(r.status, 431);
        EXPECT_EQ(client.read_to_end(), "");
    }
    {
        RawClient client(server.port());
        client.send_text("GARBAGE\r\n\r\n");
        EXPECT_EQ(client.read_response().status, 400);
    }
    {
        RawClient client(server.port());  // bare LF line endings
        client.send_text("GET /big HTTP/1.1\nHost: x\nRange: bytes=0-0\n\n");
        EXPECT_TRUE(same_bytes(client.read_response().body, blob_slice(kSeed, 0, 1)));
    }
}

TEST(FaultServer, BindAddress_ServesOnAnotherLoopbackAddress) {
    std::string why;
    std::unique_ptr<FaultServer> server = server_on_127_0_0_2(0, why);
    if (!server) GTEST_SKIP() << "cannot bind 127.0.0.2: " << why;
    server->add_blob("/two.bin", kSeed, 5000);
    EXPECT_EQ(server->host(), "127.0.0.2");
    EXPECT_EQ(server->base_url(), "http://127.0.0.2:" + std::to_string(server->port()));
    EXPECT_NE(server->base_url().find("127.0.0.2"), std::string::npos);
    RawClient client("127.0.0.2", server->port());
    Response r = client.get("/two.bin");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(same_bytes(r.body, blob_content(kSeed, 5000)));

    FaultServer by_default;
    EXPECT_EQ(by_default.host(), "127.0.0.1");
    FaultServer named("127.0.0.1");
    EXPECT_EQ(named.base_url(), "http://127.0.0.1:" + std::to_string(named.port()));
}

TEST(FaultServer, BindAddress_SamePortOnTwoAddressesAreTwoOrigins) {
    FaultServer one("127.0.0.1", 0);
    std::string why;
    std::unique_ptr<FaultServer> two = server_on_127_0_0_2(one.port(), why);
    if (!two) GTEST_SKIP() << "cannot bind 127.0.0.2:" << one.port() << ": " << why;
    ASSERT_EQ(two->port(), one.port());
    EXPECT_NE(one.base_url(), two->base_url());
    one.add_blob("/same", 1, 1000);
    two->add_blob("/same", 2, 1500);

    RawClient to_one("127.0.0.1", one.port()), to_two("127.0.0.2", two->port());
    EXPECT_TRUE(same_bytes(to_one.get("/same").body, blob_content(1, 1000)));
    EXPECT_TRUE(same_bytes(to_two.get("/same", {"Authorization: Bearer two"}).body, blob_content(2, 1500)));
    auto records_one = one.wait_for_requests(1), records_two = two->wait_for_requests(1);
    ASSERT_EQ(records_one.size(), 1u);
    ASSERT_EQ(records_two.size(), 1u);
    EXPECT_EQ(header(records_one[0], "Authorization"), "");
    EXPECT_EQ(header(records_two[0], "Authorization"), "Bearer two");
}

TEST(FaultServer, BindAddress_FailuresThrowWithReason) {
    FaultServer taken("127.0.0.1", 0);
    try {
        FaultServer again("127.0.0.1", taken.port());
        ADD_FAILURE() << "a second listener on 127.0.0.1:" << taken.port() << " must not bind";
    } catch (const std::runtime_error &e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(taken.port())), std::string::npos) << what;
        EXPECT_NE(what.find("bind"), std::string::npos) << what;
    }
    EXPECT_THROW(FaultServer("localhost"), std::runtime_error) << "dotted IPv4 only";
    EXPECT_THROW(FaultServer("127.0.0.1", 65536), std::runtime_error);
    EXPECT_THROW(FaultServer("127.0.0.1", -1), std::runtime_error);
}

TEST(FaultServer, FaultRedirect_StatusAndLocationThenServesNormally) {
    FaultServer server;
    server.add_blob("/r.bin", kSeed, 1000);
    const std::string target = "http://127.0.0.2:8080/elsewhere/r.bin?sig=a%2Fb&x=1";
    server.add_redirect("/r.bin", target, 307, 2);
    RawClient client(server.port());
    for (int i = 0; i < 2; ++i) {
        Response r = client.get("/r.bin", {"Range: bytes=0-9"});
        EXPECT_EQ(r.status, 307) << i;
        EXPECT_EQ(r.header("Location"), target) << i;
        EXPECT_EQ(r.header("Content-Type"), "text/html") << i;
        EXPECT_EQ(r.body.size(), r.content_length()) << i;
        EXPECT_NE(r.body.find("307"), std::string::npos) << i;
        EXPECT_FALSE(r.has("ETag")) << i;
        EXPECT_FALSE(r.has("Connection")) << "keep-alive: no Connection: close";
    }
    Response fine = client.get("/r.bin", {"Range: bytes=0-9"});
    EXPECT_EQ(fine.status, 206) << "times counted down to 0";
    EXPECT_FALSE(fine.has("Location"));
    EXPECT_TRUE(same_bytes(fine.body, blob_slice(kSeed, 0, 10)));
    EXPECT_EQ(server.connections_accepted(), 1u) << "redirects keep the connection usable";

    auto records = server.wait_for_requests(3);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].status, 307);
    EXPECT_EQ(records[0].fault, "redirect");
    EXPECT_EQ(records[0].range, "bytes=0-9");
    EXPECT_EQ(records[1].fault, "redirect");
    EXPECT_EQ(records[2].status, 206);
    EXPECT_EQ(records[2].fault, "");
    EXPECT_EQ(server.body_bytes_sent("/r.bin"), 10) << "redirect pages are not blob bytes";
}

TEST(FaultServer, FaultRedirect_RelativeLocationDefaultStatusAnyPath) {
    FaultServer server;
    server.add_blob("/target/b.bin", kSeed, 100);
    // Through add_rule with status 0 (302) on a path that is not a blob.
    FaultRule rule;
    rule.path = "/dir/missing";
    rule.times = -1;
    rule.fault.kind = FaultKind::redirect;
    rule.fault.location = "../target/b.bin?x=%20y";
    server.add_rule(rule);
    RawClient client(server.port());
    Response r = client.get("/dir/missing?q=1");
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.header("Location"), "../target/b.bin?x=%20y") << "sent verbatim, not resolved";
    EXPECT_NE(r.body.find("302 Found"), std::string::npos);

    Response head = client.exchange("HEAD", "/dir/missing");
    EXPECT_EQ(head.status, 302);
    EXPECT_EQ(head.header("Location"), "../target/b.bin?x=%20y");
    EXPECT_NE(head.header("Content-Length"), "0");
    // A body after the HEAD response would corrupt this one.
    EXPECT_TRUE(same_bytes(client.get("/target/b.bin").body, blob_content(kSeed, 100)));

    for (int status : {301, 302, 303, 308}) {
        server.add_redirect("/s" + std::to_string(status), "/target/b.bin", status);
        Response s = client.get("/s" + std::to_string(status));
        EXPECT_EQ(s.status, status);
        EXPECT_EQ(s.header("Location"), "/target/b.bin") << status;
    }
    Response closing = client.get("/dir/missing", {"Connection: close"});
    EXPECT_EQ(closing.status, 302);
    EXPECT_EQ(lower(closing.header("Connection")), "close");
    EXPECT_EQ(client.read_to_end(), "");

    auto records = server.wait_for_requests(8);
    ASSERT_EQ(records.size(), 8u);
    EXPECT_EQ(records[0].path, "/dir/missing");
    EXPECT_EQ(records[0].fault, "redirect");
    EXPECT_EQ(records[1].method, "HEAD");
    EXPECT_EQ(records[1].body_bytes_sent, 0);
    EXPECT_EQ(records[1].fault, "redirect");
}

TEST(FaultServer, FaultRedirect_InvalidRulesRejected) {
    FaultServer server;
    EXPECT_THROW(server.add_redirect("/a", "/b", 200), std::invalid_argument);
    EXPECT_THROW(server.add_redirect("/a", "/b", 304), std::invalid_argument);
    EXPECT_THROW(server.add_redirect("/a", "/b\r\nX-Injected: 1"), std::invalid_argument);
    EXPECT_THROW(server.add_redirect("", "/b"), std::invalid_argument);
    FaultRule rule;
    rule.fault.kind = FaultKind::redirect;
    rule.fault.status = 404;
    EXPECT_THROW(server.add_rule(rule), std::invalid_argument);
    rule.fault.kind = FaultKind::status;  // any status is fine for a status fault
    EXPECT_NO_THROW(server.add_rule(rule));
}

TEST(FaultServer, RequestRecordHeader_CaseInsensitiveLookup) {
    FaultServer server;
    server.add_blob("/h", kSeed, 10);
    RawClient client(server.port());
    client.get("/h", {"authorization: Bearer t0ken", "X-API-KEY: \t k1 ", "X-Api-Key-Extra: no", "X-Empty:",
                      "X-Twice: first", "x-twice: second"});
    auto records = server.wait_for_requests(1);
    ASSERT_EQ(records.size(), 1u);
    const RequestRecord &rec = records[0];
    EXPECT_EQ(header(rec, "Authorization"), "Bearer t0ken");
    EXPECT_EQ(header(rec, "AUTHORIZATION"), "Bearer t0ken");
    EXPECT_EQ(header(rec, "x-api-key"), "k1") << "blanks around the value trimmed";
    EXPECT_EQ(header(rec, "X-Api-Key-Extra"), "no");
    EXPECT_EQ(header(rec, "X-Api"), "") << "whole names only";
    EXPECT_EQ(header(rec, "Host"), "127.0.0.1");
    EXPECT_EQ(header(rec, "X-Twice"), "first");
    EXPECT_EQ(header(rec, "X-Empty"), "");
    EXPECT_EQ(header(rec, "Cookie"), "");
    EXPECT_EQ(header(rec, ""), "");
    EXPECT_EQ(header(RequestRecord{}, "Authorization"), "");
}

TEST(FaultServer, RequestRecord_CapturesRequest) {
    FaultServer server;
    server.add_blob("/rec", kSeed, 100);
    RawClient client(server.port());
    client.get("/rec?sig=abc", {"Authorization: Bearer t0ken", "Range: bytes=5-9", "If-Range: \"x\""});
    auto records = server.wait_for_requests(1);
    ASSERT_EQ(records.size(), 1u);
    const RequestRecord &rec = records[0];
    EXPECT_EQ(rec.method, "GET");
    EXPECT_EQ(rec.path, "/rec");
    EXPECT_EQ(rec.range, "bytes=5-9");
    EXPECT_EQ(rec.if_range, "\"x\"");
    EXPECT_NE(rec.headers.find("Authorization: Bearer t0ken"), std::string::npos);
    EXPECT_EQ(rec.status, 200);
    EXPECT_EQ(rec.body_bytes_sent, 100);
    EXPECT_EQ(rec.fault, "");
}

TEST(FaultServer, FaultResetAfter_ClientSeesResetAfterExactBytes) {
    FaultServer server;
    server.add_blob("/x", kSeed, kSize);
    server.add_rule({"/x", -1, 1, {FaultKind::reset_after, 300000, 0, "", ""}});
    RawClient client(server.port());
    client.send_request("GET", "/x");
    Response r;
    ASSERT_TRUE(client.read_head(r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(kSize));
    client.read_body(kSize, r.body);
    EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 0, 300000)));
    EXPECT_TRUE(client.ended());
    EXPECT_TRUE(client.end_errno() == ECONNRESET || client.end_errno() == 0) << std::strerror(client.end_errno());
    auto records = server.wait_for_requests(1);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].fault, "reset_after");
    EXPECT_EQ(records[0].body_bytes_sent, 300000);
}

TEST(FaultServer, FaultShortBody_FinAfterExactBytes) {
    FaultServer server;
    server.add_blob("/x", kSeed, 10000);
    server.add_rule({"", -1, 1, {FaultKind::short_body, 1234, 0, "", ""}});
    RawClient client(server.port());
    client.send_request("GET", "/x", {"Range: bytes=100-"});
    Response r;
    ASSERT_TRUE(client.read_head(r));
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Length"), "9900");
    client.read_body(9900, r.body);
    EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 100, 1234)));
    EXPECT_TRUE(client.ended());
    EXPECT_EQ(client.end_errno(), 0) << "a clean close, not a reset";
    EXPECT_EQ(server.wait_for_requests(1).at(0).fault, "short_body");
}

TEST(FaultServer, FaultStall_RecordedWhenClientLeaves) {
    FaultServer server;
    server.add_blob("/s", kSeed, 10000);
    server.add_rule({"/s", -1, 1, {FaultKind::stall, 500, 0, "", ""}});
    RawClient client(server.port());
    client.send_request("GET", "/s");
    Response r;
    ASSERT_TRUE(client.read_head(r));
    client.read_body(500, r.body);
    EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 0, 500)));
    EXPECT_GE(server.body_bytes_sent("/s"), 500) << "counted before send: never behind the client";
    EXPECT_TRUE(server.requests().empty()) << "a stalled response has not finished";
    client.close();
    auto records = server.wait_for_requests(1);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].fault, "stall");
    EXPECT_EQ(records[0].body_bytes_sent, 500);
    EXPECT_TRUE(eventually([&] { return server.active_connections() == 0; }));
}

TEST(FaultServer, FaultStall_DestructionPromptWith64Connections) {
    auto server = std::make_unique<FaultServer>();
    server->add_blob("/s", kSeed, kSize);
    server->add_rule({"/s", -1, -1, {FaultKind::stall, 1000, 0, "", ""}});
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 64; ++i) {
        clients.push_back(std::make_unique<RawClient>(server->port()));
        clients.back()->send_request("GET", "/s");
    }
    for (auto &client : clients) {  // each has seen the stall begin
        Response r;
        ASSERT_TRUE(client->read_head(r));
        client->read_body(1000, r.body);
        ASSERT_EQ(r.body.size(), 1000u);
    }
    EXPECT_EQ(server->active_connections(), 64);
    const auto start = Clock::now();
    server.reset();
    const auto took = Clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(2)) << "stop must not wait for stalled clients";
    for (auto &client : clients) {
        EXPECT_EQ(client->read_to_end(), "");
        EXPECT_TRUE(client->ended());
    }
}

TEST(FaultServer, FaultStatus_RetryAfterThenNormal) {
    FaultServer server;
    server.add_blob("/st", kSeed, 1000);
    server.add_rule({"/st", -1, 1, {FaultKind::status, 0, 503, "7", ""}});
    server.add_rule({"/st", -1, 1, {FaultKind::status, 0, 429, "", ""}});
    RawClient client(server.port());
    Response unavailable = client.get("/st", {"Range: bytes=0-9"});
    EXPECT_EQ(unavailable.status, 503);
    EXPECT_EQ(unavailable.header("Retry-After"), "7");
    EXPECT_EQ(unavailable.header("Content-Type"), "text/html");
    EXPECT_EQ(unavailable.body.size(), unavailable.content_length());
    Response limited = client.get("/st", {"Range: bytes=0-9"});
    EXPECT_EQ(limited.status, 429);
    EXPECT_FALSE(limited.has("Retry-After"));
    Response fine = client.get("/st", {"Range: bytes=0-9"});
    EXPECT_EQ(fine.status, 206) << "status faults keep the connection usable";
    EXPECT_TRUE(same_bytes(fine.body, blob_slice(kSeed, 0, 10)));
    EXPECT_EQ(server.connections_accepted(), 1u);
    auto records = server.wait_for_requests(3);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].status, 503);
    EXPECT_EQ(records[0].fault, "status");
    EXPECT_EQ(records[2].fault, "");
    EXPECT_EQ(server.body_bytes_sent("/st"), 10);
}

// An endless error page: no Content-Length, no chunked framing, the page
// over and over for as long as the client reads; recorded once it leaves.
TEST(FaultServer, FaultEndlessStatus_ErrorPageWithoutLengthNeverEnds) {
    FaultServer server;
    server.add_blob("/blob", kSeed, 1000);
    FaultRule rule{"/blob", -1, 1, {FaultKind::endless_status, 0, 404, "", ""}};
    server.add_rule(rule);
    constexpr std::size_t kRead = 1 << 20;  // far more than any error page
    {
        RawClient client(server.port());
        client.send_request("GET", "/blob");
        Response r;
        ASSERT_TRUE(client.read_head(r));
        EXPECT_EQ(r.status, 404);
        EXPECT_FALSE(r.has("Content-Length"));
        EXPECT_FALSE(r.has("Transfer-Encoding"));
        EXPECT_EQ(lower(r.header("Connection")), "close");
        EXPECT_EQ(r.header("Content-Type"), "text/html");
        client.read_body(kRead, r.body);
        ASSERT_EQ(r.body.size(), kRead) << "the body goes on";
        EXPECT_FALSE(client.ended());
        EXPECT_EQ(r.body.rfind("<html>", 0), 0u) << "the page, repeated";
        EXPECT_TRUE(server.requests().empty()) << "an endless response has not finished";
    }
    auto records = server.wait_for_requests(1);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].status, 404);
    EXPECT_EQ(records[0].fault, "endless_status");
    EXPECT_GE(records[0].body_bytes_sent, static_cast<std::int64_t>(kRead));
    EXPECT_EQ(server.body_bytes_sent("/blob"), 0) << "error pages are not blob bytes";

    // With a Location (a redirect whose page never ends) and a Retry-After.
    server.add_rule({"/blob", -1, 1, {FaultKind::endless_status, 0, 301, "", "/elsewhere"}});
    server.add_rule({"/blob", -1, 1, {FaultKind::endless_status, 0, 503, "3", ""}});
    for (int status : {301, 503}) {
        RawClient client(server.port());
        client.send_request("GET", "/blob");
        Response r;
        ASSERT_TRUE(client.read_head(r));
        EXPECT_EQ(r.status, status);
        EXPECT_EQ(r.header("Location"), status == 301 ? "/elsewhere" : "");
        EXPECT_EQ(r.header("Retry-After"), status == 503 ? "3" : "");
        client.read_body(100000, r.body);
        EXPECT_EQ(r.body.size(), 100000u) << status;
    }
    // A HEAD gets the head alone, then the close.
    server.add_rule({"/blob", -1, 1, {FaultKind::endless_status, 0, 404, "", ""}});
    RawClient head(server.port());
    Response h = head.exchange("HEAD", "/blob");
    EXPECT_EQ(h.status, 404);
    EXPECT_EQ(head.read_to_end(), "");
    EXPECT_TRUE(head.ended());
}

// A trickle: `bytes_per_second` paces the endless page.
TEST(FaultServer, FaultEndlessStatus_TricklesAtBytesPerSecond) {
    FaultServer server;
    FaultRule rule{"", -1, 1, {FaultKind::endless_status, 0, 404, "", ""}};
    rule.fault.bytes_per_second = 100;
    server.add_rule(rule);
    RawClient client(server.port());
    const auto start = Clock::now();
    client.send_request("GET", "/anything");
    Response r;
    ASSERT_TRUE(client.read_head(r));
    client.read_body(30, r.body);
    EXPECT_EQ(r.body.size(), 30u);
    EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200)) << "30 bytes at 100 bytes/s take about 300 ms";
    client.close();
    auto records = server.wait_for_requests(1);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].fault, "endless_status");
}

// A 200 of unknown size that never ends: the blob's bytes and those after
// them, whatever Range was asked; chunked (never terminated) when set.
TEST(FaultServer, FaultEndlessBody_200WithoutLengthGoesPastTheBlob) {
    FaultServer server;
    server.add_blob("/e", kSeed, 1000);
    server.add_rule({"/e", -1, 2, {FaultKind::endless_body, 0, 0, "", ""}});
    {
        RawClient client(server.port());
        client.send_request("GET", "/e", {"Range: bytes=100-199"});
        Response r;
        ASSERT_TRUE(client.read_head(r));
        EXPECT_EQ(r.status, 200);
        EXPECT_FALSE(r.has("Content-Length"));
        EXPECT_FALSE(r.has("Content-Range"));
        EXPECT_EQ(lower(r.header("Connection")), "close");
        client.read_body(300000, r.body);
        EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 0, 300000)));
        EXPECT_FALSE(client.ended());
    }
    EXPECT_EQ(server.wait_for_requests(1).at(0).fault, "endless_body");
    EXPECT_GE(server.body_bytes_sent("/e"), 300000);

    server.set_chunked_encoding(true);
    RawClient client(server.port());
    client.send_request("GET", "/e");
    Response r;
    ASSERT_TRUE(client.read_head(r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(r.has("Content-Length"));
    client.read_body(600000, r.body);
    EXPECT_EQ(r.body.size(), 600000u) << "chunks keep coming";
    EXPECT_EQ(r.body.find("\r\n0\r\n\r\n"), std::string::npos) << "no last chunk";
    EXPECT_FALSE(client.ended());

    server.set_chunked_encoding(false);
    EXPECT_EQ(RawClient(server.port()).get("/e").body.size(), 1000u) << "times counted down: served normally";
}

TEST(FaultServer, FaultIgnoreRange_WholeBody) {
    FaultServer server;
    server.add_blob("/ir", kSeed, 5000);
    server.add_rule({"/ir", -1, 1, {FaultKind::ignore_range, 0, 0, "", ""}});
    RawClient client(server.port());
    Response r = client.get("/ir", {"Range: bytes=1000-1999"});
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.has("Content-Range"));
    EXPECT_TRUE(same_bytes(r.body, blob_content(kSeed, 5000)));
    EXPECT_EQ(client.get("/ir", {"Range: bytes=1000-1999"}).status, 206);
}

TEST(FaultServer, FaultExtraBytes_GarbageBeyondContentLength) {
    FaultServer server;
    server.add_blob("/e", kSeed, 10000);
    server.add_rule({"/e", -1, 1, {FaultKind::extra_bytes, 77, 0, "", ""}});
    RawClient client(server.port());
    client.send_request("GET", "/e", {"Range: bytes=2000-2999"});
    Response r;
    ASSERT_TRUE(client.read_head(r));
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Range"), "bytes 2000-2999/10000");
    EXPECT_EQ(r.header("Content-Length"), "1000");
    std::string all = client.read_to_end();
    EXPECT_EQ(client.end_errno(), 0);
    EXPECT_TRUE(same_bytes(all, blob_slice(kSeed, 2000, 1077))) << "the range, then 77 of the blob's following bytes";
    auto records = server.wait_for_requests(1);
    EXPECT_EQ(records.at(0).body_bytes_sent, 1077);
    EXPECT_EQ(records.at(0).fault, "extra_bytes");
}

TEST(FaultServer, FaultWrongRange_ShiftedContentRange) {
    FaultServer server;
    server.add_blob("/w", kSeed, 10000);
    server.add_rule({"/w", -1, 1, {FaultKind::wrong_range, 16, 0, "", ""}});
    RawClient client(server.port());
    Response r = client.get("/w", {"Range: bytes=4096-8191"});
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Range"), "bytes 4112-8207/10000");
    EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 4112, 4096)));
    EXPECT_EQ(client.get("/w", {"Range: bytes=4096-8191"}).header("Content-Range"), "bytes 4096-8191/10000");
}

TEST(FaultServer, RuleRangeBegin_MatchesOnlyThatRange) {
    FaultServer server;
    server.add_blob("/rb", kSeed, 3 * 4096);
    server.add_blob("/other", kSeed, 3 * 4096);
    server.add_rule({"/rb", 4096, -1, {FaultKind::status, 0, 500, "", ""}});
    RawClient client(server.port());
    EXPECT_EQ(client.get("/rb", {"Range: bytes=0-4095"}).status, 206);
    EXPECT_EQ(client.get("/rb", {"Range: bytes=4096-8191"}).status, 500);
    EXPECT_EQ(client.get("/rb", {"Range: bytes=4096-"}).status, 500);
    EXPECT_EQ(client.get("/rb", {"Range: bytes=-8192"}).status, 500) << "a suffix range starting at 4096";
    EXPECT_EQ(client.get("/rb", {"Range: bytes=8192-12287"}).status, 206);
    EXPECT_EQ(client.get("/rb").status, 200) << "no Range: no range_begin match";
    EXPECT_EQ(client.get("/other", {"Range: bytes=4096-8191"}).status, 206) << "path filter";
}

TEST(FaultServer, RuleTimes_CountsDownThenForeverThenCleared) {
    FaultServer server;
    server.add_blob("/t", kSeed, 100);
    server.add_rule({"", -1, 2, {FaultKind::status, 0, 503, "", ""}});
    server.add_rule({"", -1, 0, {FaultKind::status, 0, 404, "", ""}});  // exhausted: never applies
    server.add_rule({"", -1, -1, {FaultKind::status, 0, 403, "", ""}});
    RawClient client(server.port());
    EXPECT_EQ(client.get("/t").status, 503);
    EXPECT_EQ(client.get("/t").status, 503);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(client.get("/t").status, 403);
    server.clear_rules();
    EXPECT_EQ(client.get("/t").status, 200);
}

TEST(FaultServer, BodyBytesSent_TotalsPerPath) {
    FaultServer server;
    server.add_blob("/b1", kSeed, kSize);
    server.add_blob("/b2", kSeed, 1000);
    server.add_rule({"/b2", -1, 1, {FaultKind::reset_after, 100, 0, "", ""}});
    {
        RawClient client(server.port());
        client.get("/b1");
        client.get("/b1", {"Range: bytes=10-19"});
    }
    {
        RawClient client(server.port());
        client.send_request("GET", "/b2");
        client.read_to_end();
    }
    auto records = server.wait_for_requests(3);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(server.body_bytes_sent("/b1"), static_cast<std::int64_t>(kSize) + 10);
    EXPECT_EQ(server.body_bytes_sent("/b2"), 100);
    EXPECT_EQ(server.body_bytes_sent("/never"), 0);
    EXPECT_EQ(server.connections_accepted(), 2u);
}

TEST(FaultServer, RateLimit_PacesBodyAndStopStaysResponsive) {
    auto server = std::make_unique<FaultServer>();
    server->add_blob("/slow", kSeed, 64 << 20);
    server->set_rate_limit(256 * 1024);
    RawClient client(server->port());

    const auto start = Clock::now();
    Response r = client.get("/slow", {"Range: bytes=0-65535"});
    const auto took = Clock::now() - start;
    EXPECT_TRUE(same_bytes(r.body, blob_slice(kSeed, 0, 65536)));
    EXPECT_GE(took, std::chrono::milliseconds(150)) << "64 KiB at 256 KiB/s takes about 250 ms";

    client.send_request("GET", "/slow");  // would take minutes at this rate
    Response whole;
    ASSERT_TRUE(client.read_head(whole));
    const auto stop_start = Clock::now();
    server.reset();
    EXPECT_LT(Clock::now() - stop_start, std::chrono::seconds(2));
    client.read_body(64 << 20, whole.body);
    EXPECT_LT(whole.body.size(), static_cast<std::size_t>(64 << 20));
    EXPECT_TRUE(client.ended());
}

}  // namespace
}  // namespace blobfetch::test
