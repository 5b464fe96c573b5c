// The transfer loop (net/transport.h) on its own against the fault server:
// the body of an answer that is no 2xx is read only up to its bounds (bytes
// and time), then the status is acted on, so an error page that never ends,
// or trickles, cannot hold a transfer.
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "net/transport.h"
#include "support/blob_content.h"
#include "support/fault_server.h"

namespace blobfetch::test {
namespace {

using Clock = std::chrono::steady_clock;

// Keeps what the loop hands over.
class Collect final : public ITransferHandler {
public:
    Status on_head(const ResponseHead &h) override {
        head = h;
        ++heads;
        return Status::success();
    }
    Status on_body(const char *data, std::size_t len) override {
        body.append(data, len);
        return Status::success();
    }
    ResponseHead head;
    int heads = 0;
    std::string body;
};

struct Finished {
    std::optional<TransferOutcome> outcome;  // nullopt: no outcome within the limit (then aborted)
    std::chrono::milliseconds took{0};
};

// Runs one request to its outcome, for at most `limit`.
Finished run_one(TransferLoop &loop, const std::string &url, Collect &handler,
                 std::chrono::seconds limit = std::chrono::seconds(15)) {
    HttpRequest request;
    request.url = url;
    const auto start = Clock::now();
    const TransferId id = loop.start(request, handler);
    Finished f;
    while (!f.outcome && Clock::now() - start < limit)
        for (auto &[done, outcome] : loop.run(std::chrono::milliseconds(50)))
            if (done == id) f.outcome = std::move(outcome);
    f.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (!f.outcome) loop.abort(id);
    return f;
}

FaultRule endless(int status, std::int64_t bytes_per_second = 0, const std::string &location = "") {
    FaultRule r;
    r.times = -1;
    r.fault.kind = FaultKind::endless_status;
    r.fault.status = status;
    r.fault.bytes_per_second = bytes_per_second;
    r.fault.location = location;
    return r;
}

TEST(TransferLoop, Defaults_ErrorBodiesAreReadForAtMost64KiBAnd5Seconds) {
    const TransportOptions o;
    EXPECT_EQ(o.error_body_limit, 64 * 1024);
    EXPECT_EQ(o.error_body_timeout, std::chrono::milliseconds(5000));
}

// A 404 whose page never ends is cut at the byte bound and is a miss, at
// once (long before the time bound). (It was read forever.)
TEST(TransferLoop, EndlessErrorBody404_IsCutAtTheByteBound_AndIsAMiss) {
    FaultServer server;
    server.add_rule(endless(404));
    TransportOptions o;
    o.error_body_timeout = std::chrono::minutes(10);  // only the byte bound can end it
    TransferLoop loop(o, 1);
    Collect handler;
    const Finished f = run_one(loop, server.base_url() + "/gone.bin", handler);
    ASSERT_TRUE(f.outcome) << "still reading an endless 404 page after " << f.took.count() << " ms";
    EXPECT_EQ(f.outcome->status.code(), Errc::not_found) << f.outcome->status.message();
    EXPECT_NE(f.outcome->status.message().find("HTTP 404 from " + server.base_url() + "/gone.bin"), std::string::npos)
        << f.outcome->status.message();
    EXPECT_FALSE(f.outcome->retryable);
    EXPECT_EQ(f.outcome->head.status, 404);
    EXPECT_EQ(handler.heads, 0) << "error pages never reach the handler";
    EXPECT_TRUE(handler.body.empty());
}

// A 503 whose page never ends: cut, and retryable as any 503.
TEST(TransferLoop, EndlessErrorBody503_IsCutAndRetryable) {
    FaultServer server;
    server.add_rule(endless(503));
    TransportOptions o;
    o.error_body_limit = 1000;
    TransferLoop loop(o, 1);
    Collect handler;
    const Finished f = run_one(loop, server.base_url() + "/busy.bin", handler);
    ASSERT_TRUE(f.outcome) << "still reading an endless 503 page after " << f.took.count() << " ms";
    EXPECT_EQ(f.outcome->status.code(), Errc::http) << f.outcome->status.message();
    EXPECT_NE(f.outcome->status.message().find("HTTP 503"), std::string::npos) << f.outcome->status.message();
    EXPECT_TRUE(f.outcome->retryable);
}

// A trickling 404 page never reaches the byte bound: the time bound ends it,
// as a miss, not as a stalled (retried) transfer.
TEST(TransferLoop, TricklingErrorBody_IsCutAtTheTimeBound_AsAMissNotAStall) {
    FaultServer server;
    server.add_rule(endless(404, /*bytes_per_second=*/40));
    TransportOptions o;
    o.error_body_timeout = std::chrono::milliseconds(400);
    o.stall_timeout = std::chrono::milliseconds(100);  // far slower than stall_min_speed: a stall, were it a body we want
    TransferLoop loop(o, 1);
    Collect handler;
    const Finished f = run_one(loop, server.base_url() + "/slow-miss.bin", handler);
    ASSERT_TRUE(f.outcome) << "still reading a trickling 404 page after " << f.took.count() << " ms";
    EXPECT_EQ(f.outcome->status.code(), Errc::not_found) << f.outcome->status.message();
    EXPECT_FALSE(f.outcome->retryable);
    EXPECT_GE(f.took, std::chrono::milliseconds(400));
    EXPECT_LT(f.took, std::chrono::seconds(5));
}

// A redirect whose page never ends (or trickles) is cut, and followed.
TEST(TransferLoop, EndlessRedirectBody_IsCutAndTheRedirectFollowed) {
    FaultServer server;
    server.add_blob("/there.bin", 7, 5000);
    FaultRule fast = endless(301, 0, "/there.bin");
    fast.path = "/fast";
    server.add_rule(fast);
    FaultRule slow = endless(302, /*bytes_per_second=*/40, "/there.bin");
    slow.path = "/slow";
    server.add_rule(slow);
    TransportOptions o;
    o.error_body_timeout = std::chrono::milliseconds(300);
    TransferLoop loop(o, 1);
    for (const char *path : {"/fast", "/slow"}) {
        Collect handler;
        const Finished f = run_one(loop, server.base_url() + path, handler);
        ASSERT_TRUE(f.outcome) << path << ": still reading an endless redirect page after " << f.took.count() << " ms";
        ASSERT_TRUE(f.outcome->status.ok()) << path << ": " << f.outcome->status.message();
        EXPECT_EQ(f.outcome->head.url, server.base_url() + "/there.bin") << path;
        EXPECT_TRUE(handler.body == blob_content(7, 5000)) << path;
    }
}

// Short error pages still end as they did: read to their end (the
// connection stays usable), the status acted on.
TEST(TransferLoop, ShortErrorPage_IsReadToItsEnd_AndTheConnectionReused) {
    FaultServer server;
    server.add_blob("/here.bin", 8, 100);
    TransferLoop loop(TransportOptions{}, 1);
    Collect missing;
    const Finished f = run_one(loop, server.base_url() + "/not-here.bin", missing);
    ASSERT_TRUE(f.outcome);
    EXPECT_EQ(f.outcome->status.code(), Errc::not_found);
    Collect found;
    const Finished g = run_one(loop, server.base_url() + "/here.bin", found);
    ASSERT_TRUE(g.outcome && g.outcome->status.ok());
    EXPECT_EQ(server.connections_accepted(), 1u) << "a complete error page leaves its connection usable";
}

}  // namespace
}  // namespace blobfetch::test
