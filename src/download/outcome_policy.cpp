#include "download/outcome_policy.h"

#include "download/response_check.h"
#include "net/http_headers.h"

namespace blobfetch::detail {

TransferDecision after_transfer(const TransferFacts &f, const RetryPolicy &retry) {
    TransferDecision d;
    Status st = f.status;
    bool retryable = f.retryable;
    if (!st.ok() && !f.refused && f.end >= 0 && f.position == f.end) {
        // Every byte asked for arrived before the connection failed (a
        // missing end of a chunked body, a reset after the last byte): the
        // piece is complete, and retrying it would ask for nothing.
        d.forgiven = true;
        d.status = st;
        st = Status::success();
    }
    if (st.ok()) {
        if (f.end < 0 || f.position == f.end) return d;  // complete
        st = Status(Errc::network, f.shown_url + " ended the response after " + std::to_string(f.position - f.begin) +
                                       " of " + std::to_string(f.end - f.begin) + " bytes");
        retryable = true;
    } else if (f.refusal_retryable) {
        retryable = true;
    }
    if (f.http_status == 416 && f.ranged) {
        // "Range Not Satisfiable" tells the remote's size ("bytes */N").
        const auto total = parse_unsatisfied_range(f.content_range);
        if (total && *total == 0 && f.blob_size < 0 && f.begin == 0) {
            d.action = AfterTransfer::empty_blob;
            return d;
        }
        if (total && f.blob_size >= 0 && *total != f.blob_size) {
            // A chunk beyond the end of a smaller remote: the same error as
            // when a 206 tells the size, whichever answer comes first.
            st = size_mismatch(f.shown_url, f.blob_path, *total, f.blob_size);
            retryable = false;
        }
    }
    d.status = st;
    if (!retryable && f.via_resolved && f.http_status >= 400 && f.http_status < 500 && f.http_status != 416) {
        // A redirect target learned earlier refuses now (a presigned URL
        // that expired): the blob's own URL, where it leads now.
        d.action = AfterTransfer::ask_url_again;
        return d;
    }
    if (!retryable) {
        d.action = AfterTransfer::fail;
        return d;
    }
    // Progress resets the count only when the retry keeps it: a request
    // without Range starts over from 0, so its tries always count.
    d.attempt = f.made_progress && f.ranged ? 1 : f.attempt + 1;
    if (d.attempt > retry.max_retries) {
        d.action = AfterTransfer::fail;
        d.status = Status(st.code(), st.message() + " (gave up after " + std::to_string(d.attempt) + " attempts)");
        return d;
    }
    d.action = AfterTransfer::retry;
    // A try without Range rewrites the blob from offset 0 (with bytes that
    // may differ from the first try's, when the remote has no validators):
    // what the first try completed and hashed goes.
    d.rewrite_from_zero = !f.ranged && f.has_record;
    d.delay = retry.delay(d.attempt, f.retry_after);
    return d;
}

AfterCheckpoint after_checkpoint(const CheckpointFacts &f) {
    if (f.lock_replaced && !f.blob_failed && !f.cancelled && f.relocks_left) return AfterCheckpoint::relock;
    if (f.status.ok() || f.blob_failed) return AfterCheckpoint::go_on;
    if (f.durability_lost) {
        // The data did not reach the disk, and the kernel may have dropped
        // it: nothing of this file can be trusted (nor published).
        return !f.sync_restarted && !f.cancelled ? AfterCheckpoint::start_fresh : AfterCheckpoint::fail_sync;
    }
    return AfterCheckpoint::warn_go_on;
}

AfterPublish after_publish(const PublishFacts &f) {
    if (f.lock_replaced && !f.cancelled && f.relocks_left) return AfterPublish::relock;
    if (f.status.code() == Errc::verify && f.resumed && !f.refetched && !f.cancelled) return AfterPublish::refetch;
    if (f.sync_failed) return !f.sync_restarted && !f.cancelled ? AfterPublish::start_fresh : AfterPublish::fail_sync;
    if (f.status.ok() || f.status.code() != Errc::cancelled || !f.file_kept) return AfterPublish::finish;
    return AfterPublish::record_and_close;
}

CloseDecision on_close(const CloseFacts &f) {
    CloseDecision d;
    d.keep = f.has_record && f.recorded_bytes > 0 && f.failure != Errc::not_found && f.failure != Errc::verify &&
             !f.private_files && !f.durability_lost && f.ends == CloseEnds::finish;
    d.discard = !d.keep && f.ends != CloseEnds::relock;
    return d;
}

}  // namespace blobfetch::detail
