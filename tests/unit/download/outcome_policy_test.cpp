// The engine's decisions after a transfer, a checkpoint, a publish and a
// close, as tables of facts and the decision each must give (no network, no
// files).
#include <gtest/gtest.h>

#include "download/outcome_policy.h"

namespace blobfetch::detail {
namespace {

using namespace std::chrono_literals;

RetryPolicy policy() {
    RetryPolicy p;
    p.max_retries = 3;
    p.base_delay = 100ms;
    p.max_delay = 1000ms;
    return p;
}

// A ranged chunk [0, 100) of a 300-byte blob.
TransferFacts chunk() {
    TransferFacts f;
    f.begin = 0;
    f.end = 100;
    f.ranged = true;
    f.blob_size = 300;
    f.has_record = true;
    f.shown_url = "http://cache.example/b";
    f.blob_path = "d/b.bin";
    return f;
}

TransferFacts failed(TransferFacts f, Errc code, bool retryable, int http_status = 0, std::int64_t position = 0) {
    f.status = Status(code, "boom");
    f.retryable = retryable;
    f.http_status = http_status;
    f.position = position;
    return f;
}

TEST(AfterTransfer, Table) {
    struct Row {
        const char *what;
        TransferFacts facts;
        AfterTransfer action;
        int attempt;
        bool rewrite;
    };
    TransferFacts all_in = chunk();
    all_in.position = 100;
    TransferFacts short_ok = chunk();
    short_ok.position = 60;
    TransferFacts unbounded = chunk();
    unbounded.end = -1;
    unbounded.position = 12345;
    TransferFacts stream = failed(chunk(), Errc::network, true, 200, 40);
    stream.ranged = false;
    stream.attempt = 1;
    TransferFacts stream_no_record = stream;
    stream_no_record.has_record = false;
    TransferFacts progressed = failed(chunk(), Errc::network, true, 206, 80);
    progressed.made_progress = true;
    progressed.attempt = 3;
    TransferFacts exhausted = failed(chunk(), Errc::network, true, 503);
    exhausted.attempt = 3;
    TransferFacts refusal = failed(chunk(), Errc::http, false, 206, 10);
    refusal.refused = true;
    refusal.refusal_retryable = true;
    TransferFacts refused_at_end = failed(chunk(), Errc::http, false, 206, 100);
    refused_at_end.refused = true;
    TransferFacts expired = failed(chunk(), Errc::http, false, 403);
    expired.via_resolved = true;
    TransferFacts expired_retryable = expired;
    expired_retryable.retryable = true;
    TransferFacts own_403 = failed(chunk(), Errc::http, false, 403);
    TransferFacts empty_probe = failed(chunk(), Errc::http, false, 416);
    empty_probe.blob_size = -1;
    empty_probe.content_range = "bytes */0";
    TransferFacts empty_known = empty_probe;
    empty_known.blob_size = 300;
    TransferFacts empty_later_piece = empty_probe;
    empty_later_piece.begin = 100;
    TransferFacts smaller = failed(chunk(), Errc::http, true, 416);
    smaller.content_range = "bytes */200";
    TransferFacts same = failed(chunk(), Errc::http, true, 416);
    same.content_range = "bytes */300";
    TransferFacts resolved_416 = failed(chunk(), Errc::http, false, 416);
    resolved_416.via_resolved = true;

    const Row rows[] = {
        {"every byte arrived", all_in, AfterTransfer::complete, 0, false},
        {"a body without a known end", unbounded, AfterTransfer::complete, 0, false},
        {"failed after the last byte: forgiven", failed(all_in, Errc::network, true, 206, 100),
         AfterTransfer::complete, 0, false},
        {"ended early without an error: retried", short_ok, AfterTransfer::retry, 1, false},
        {"a reset mid-chunk: retried", failed(chunk(), Errc::network, true, 206, 50), AfterTransfer::retry, 1, false},
        {"a completed chunk resets the count", progressed, AfterTransfer::retry, 1, false},
        {"a stream's tries always count, and rewrite the record", stream, AfterTransfer::retry, 2, true},
        {"a stream without a record has nothing to rewrite", stream_no_record, AfterTransfer::retry, 2, false},
        {"the retries used up", exhausted, AfterTransfer::fail, 4, false},
        {"not retryable", failed(chunk(), Errc::http, false, 404), AfterTransfer::fail, 0, false},
        {"the handler's retryable refusal", refusal, AfterTransfer::retry, 1, false},
        {"a refusal after the last byte is not forgiven", refused_at_end, AfterTransfer::fail, 0, false},
        {"an expired redirect target", expired, AfterTransfer::ask_url_again, 0, false},
        {"a retryable failure of a redirect target is retried there", expired_retryable, AfterTransfer::retry, 1,
         false},
        {"the blob's own URL refusing", own_403, AfterTransfer::fail, 0, false},
        {"a redirect target's 416 is no expiry", resolved_416, AfterTransfer::fail, 0, false},
        {"the probe finds an empty remote", empty_probe, AfterTransfer::empty_blob, 0, false},
        {"an empty remote where a size is known", empty_known, AfterTransfer::fail, 0, false},
        {"not the probe", empty_later_piece, AfterTransfer::fail, 0, false},
        {"a smaller remote: a size mismatch, never retried", smaller, AfterTransfer::fail, 0, false},
        {"a 416 that tells the known size: retried", same, AfterTransfer::retry, 1, false},
    };
    for (const Row &row : rows) {
        const TransferDecision d = after_transfer(row.facts, policy());
        EXPECT_EQ(d.action, row.action) << row.what;
        EXPECT_EQ(d.attempt, row.attempt) << row.what;
        EXPECT_EQ(d.rewrite_from_zero, row.rewrite) << row.what;
        if (d.action == AfterTransfer::retry) {
            EXPECT_GE(d.delay, 50ms) << row.what;
            EXPECT_LE(d.delay, 1000ms) << row.what;
        }
    }
}

TEST(AfterTransfer, Messages_NameTheUrlTheBlobAndTheCounts) {
    TransferFacts short_ok = chunk();
    short_ok.begin = 100;
    short_ok.end = 200;
    short_ok.position = 160;
    EXPECT_EQ(after_transfer(short_ok, policy()).status.message(),
              "http://cache.example/b ended the response after 60 of 100 bytes");

    TransferFacts exhausted = failed(chunk(), Errc::network, true, 503);
    exhausted.attempt = 3;
    const TransferDecision d = after_transfer(exhausted, policy());
    EXPECT_EQ(d.status.code(), Errc::network);
    EXPECT_EQ(d.status.message(), "boom (gave up after 4 attempts)");

    TransferFacts smaller = failed(chunk(), Errc::http, true, 416);
    smaller.content_range = "bytes */200";
    const Status s = after_transfer(smaller, policy()).status;
    EXPECT_NE(s.message().find("d/b.bin"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("200"), std::string::npos) << s.message();

    const TransferDecision forgiven = after_transfer(failed(chunk(), Errc::network, true, 206, 100), policy());
    EXPECT_TRUE(forgiven.forgiven);
    EXPECT_EQ(forgiven.status.message(), "boom");
}

TEST(AfterTransfer, RetryAfterFromTheServer_IsTheDelay) {
    TransferFacts f = failed(chunk(), Errc::http, true, 503);
    f.retry_after = std::chrono::seconds(7);
    RetryPolicy p = policy();
    p.max_delay = 60'000ms;
    EXPECT_EQ(after_transfer(f, p).delay, 7000ms);
}

TEST(AfterCheckpoint, Table) {
    struct Row {
        const char *what;
        CheckpointFacts facts;
        AfterCheckpoint expected;
    };
    const Status io(Errc::io, "fdatasync failed");
    auto facts = [&](bool ok, bool replaced, bool failed, bool cancelled, bool relocks_left, bool lost,
                     bool restarted) {
        return CheckpointFacts{ok ? Status::success() : io, replaced, failed, cancelled, relocks_left, lost, restarted};
    };
    const Row rows[] = {
        {"saved", facts(true, false, false, false, true, false, false), AfterCheckpoint::go_on},
        {"the lock file replaced", facts(true, true, false, false, true, false, false), AfterCheckpoint::relock},
        {"replaced, no relocks left", facts(true, true, false, false, false, false, false), AfterCheckpoint::go_on},
        {"replaced, but cancelled", facts(true, true, false, true, true, false, false), AfterCheckpoint::go_on},
        {"replaced, but failed meanwhile", facts(true, true, true, false, true, false, false), AfterCheckpoint::go_on},
        {"replaced wins over a failed save", facts(false, true, false, false, true, true, false),
         AfterCheckpoint::relock},
        {"not saved, data safe", facts(false, false, false, false, true, false, false), AfterCheckpoint::warn_go_on},
        {"not saved, failed meanwhile", facts(false, false, true, false, true, true, false), AfterCheckpoint::go_on},
        {"a sync failed", facts(false, false, false, false, true, true, false), AfterCheckpoint::start_fresh},
        {"a sync failed again", facts(false, false, false, false, true, true, true), AfterCheckpoint::fail_sync},
        {"a sync failed while cancelled", facts(false, false, false, true, true, true, false),
         AfterCheckpoint::fail_sync},
    };
    for (const Row &row : rows) EXPECT_EQ(after_checkpoint(row.facts), row.expected) << row.what;
}

TEST(AfterPublish, Table) {
    struct Row {
        const char *what;
        PublishFacts facts;
        AfterPublish expected;
    };
    const Status ok = Status::success();
    const Status verify(Errc::verify, "SHA-256 mismatch");
    const Status cancelled(Errc::cancelled, "cancelled");
    const Status io(Errc::io, "fdatasync failed");
    // status, replaced, cancelled, relocks_left, resumed, refetched, sync_failed, sync_restarted, file_kept
    const Row rows[] = {
        {"published", {ok, false, false, true, false, false, false, false, false}, AfterPublish::finish},
        {"a plain failure", {verify, false, false, true, false, false, false, false, false}, AfterPublish::finish},
        {"replaced meanwhile", {verify, true, false, true, false, false, false, false, false}, AfterPublish::relock},
        {"replaced, no relocks left", {verify, true, false, false, false, false, false, false, false},
         AfterPublish::finish},
        {"replaced, cancelled", {cancelled, true, true, true, false, false, false, false, true},
         AfterPublish::record_and_close},
        {"resumed bytes failed the hash", {verify, false, false, true, true, false, false, false, false},
         AfterPublish::refetch},
        {"failed again after a refetch", {verify, false, false, true, true, true, false, false, false},
         AfterPublish::finish},
        {"resumed, but cancelled", {verify, false, true, true, true, false, false, false, false},
         AfterPublish::finish},
        {"a sync failed", {io, false, false, true, false, false, true, false, false}, AfterPublish::start_fresh},
        {"a sync failed again", {io, false, false, true, false, false, true, true, false}, AfterPublish::fail_sync},
        {"a sync failed while cancelled", {io, false, true, true, false, false, true, false, false},
         AfterPublish::fail_sync},
        {"cancelled while hashing, file open", {cancelled, false, true, true, false, false, false, false, true},
         AfterPublish::record_and_close},
        {"cancelled after the file was closed", {cancelled, false, true, true, false, false, false, false, false},
         AfterPublish::finish},
    };
    for (const Row &row : rows) EXPECT_EQ(after_publish(row.facts), row.expected) << row.what;
}

TEST(OnClose, Table) {
    struct Row {
        const char *what;
        CloseFacts facts;
        bool keep, discard;
    };
    // failure, has_record, recorded_bytes, private_files, durability_lost, ends
    const Row rows[] = {
        {"a network failure with chunks recorded", {Errc::network, true, 4096, false, false, CloseEnds::finish},
         true, false},
        {"cancelled with chunks recorded", {Errc::cancelled, true, 4096, false, false, CloseEnds::finish}, true,
         false},
        {"nothing recorded", {Errc::network, true, 0, false, false, CloseEnds::finish}, false, true},
        {"no record", {Errc::network, false, 0, false, false, CloseEnds::finish}, false, true},
        {"the source has no such blob", {Errc::not_found, true, 4096, false, false, CloseEnds::finish}, false, true},
        {"the source holds something else", {Errc::verify, true, 4096, false, false, CloseEnds::finish}, false, true},
        {"private files are never resumed", {Errc::network, true, 4096, true, false, CloseEnds::finish}, false, true},
        {"a sync failed: nobody may claim the bytes", {Errc::io, true, 4096, false, true, CloseEnds::finish}, false,
         true},
        {"starting afresh keeps nothing", {Errc::io, true, 4096, false, false, CloseEnds::start_fresh}, false, true},
        {"the lock file replaced: the names are left alone", {Errc::io, true, 4096, false, false, CloseEnds::relock},
         false, false},
    };
    for (const Row &row : rows) {
        const CloseDecision d = on_close(row.facts);
        EXPECT_EQ(d.keep, row.keep) << row.what;
        EXPECT_EQ(d.discard, row.discard) << row.what;
    }
}

}  // namespace
}  // namespace blobfetch::detail
