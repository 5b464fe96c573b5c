#include "download/response_check.h"

#include <string>

#include "net/http_headers.h"

namespace blobfetch {
namespace {

HeadCheck reject(Errc code, std::string message) {
    HeadCheck c;
    c.verdict = HeadVerdict::reject;
    c.error = Status(code, std::move(message));
    return c;
}

std::string range_text(const RequestedRange &r) {
    return "bytes " + std::to_string(r.begin) + "-" + (r.end >= 0 ? std::to_string(r.end - 1) : std::string());
}

}  // namespace

Status size_mismatch(std::string_view shown_url, std::string_view blob_path, std::int64_t total,
                     std::int64_t expected) {
    return Status(Errc::verify, std::string(shown_url) + " holds " + std::to_string(total) + " bytes but blob '" +
                                    std::string(blob_path) + "' should have " + std::to_string(expected) +
                                    ": the source holds a different file; nothing was published");
}

HeadCheck check_response_head(const RequestedRange &req, std::int64_t known_size, bool size_given,
                              const RemoteIdentity &known, const ResponseHead &head, std::string_view shown_url,
                              std::string_view blob_path) {
    const std::string url(shown_url), path(blob_path);
    const RemoteIdentity identity = RemoteIdentity::from_response(head.etag, head.last_modified);
    const bool same_remote = known.compatible(identity);
    auto changed = [&](std::int64_t total) {
        HeadCheck c;
        c.verdict = HeadVerdict::remote_changed;
        c.identity = identity;
        c.total = total;
        return c;
    };

    if (head.status == 206) {
        if (!req.ranged)
            return reject(Errc::http, url + " answered 206 Partial Content to a request without Range");
        auto cr = parse_content_range(head.content_range);
        if (!cr)
            return reject(Errc::http, url + " answered 206 with an unusable Content-Range '" +
                                          head.content_range.substr(0, 80) + "' (asked for " + range_text(req) + ")");
        if (!same_remote) return changed(cr->total);
        if (cr->total >= 0 && known_size >= 0 && cr->total != known_size) {
            // A size only learned (a record's, an earlier answer's) that no
            // longer holds: the remote changed under the same validators.
            if (!size_given) return changed(cr->total);
            return reject(Errc::verify, size_mismatch(url, path, cr->total, known_size).message());
        }
        if (cr->total < 0 && known_size < 0) {
            // "bytes a-b/*" for a blob of unknown size: no way to plan chunks.
            // Fetch it in one stream instead.
            HeadCheck c;
            c.verdict = HeadVerdict::range_ignored;
            c.identity = identity;
            return c;
        }
        const std::int64_t size = cr->total >= 0 ? cr->total : known_size;
        std::int64_t want_end = req.end;
        if (size >= 0 && (want_end < 0 || want_end > size)) want_end = size;
        const bool end_ok = want_end < 0 ? true : cr->last == want_end - 1;
        if (cr->first != req.begin || !end_ok)
            return reject(Errc::http, url + " answered " + head.content_range.substr(0, 80) + " to a request for " +
                                          range_text(req) + " of blob '" + path + "': the server misreports ranges");
        const std::int64_t length = cr->last - cr->first + 1;
        if (head.content_length >= 0 && head.content_length != length)
            return reject(Errc::http, url + " announced " + std::to_string(head.content_length) +
                                          " bytes for the range " + head.content_range.substr(0, 80));
        HeadCheck c;
        c.total = size;
        c.identity = identity;
        return c;
    }

    if (head.status == 200 || head.status == 0) {
        if (!same_remote) return changed(head.content_length);
        if (known_size >= 0 && head.content_length >= 0 && head.content_length != known_size) {
            if (!size_given) return changed(head.content_length);
            return reject(Errc::verify, url + " announced " + std::to_string(head.content_length) +
                                            " bytes but blob '" + path + "' should have " + std::to_string(known_size) +
                                            ": the source holds a different file; nothing was published");
        }
        HeadCheck c;
        c.identity = identity;
        c.total = head.content_length >= 0 ? head.content_length : known_size;
        // A whole body in answer to a range is only usable from offset 0.
        if (req.ranged) c.verdict = HeadVerdict::range_ignored;
        return c;
    }

    return reject(Errc::http, url + " answered HTTP " + std::to_string(head.status) + " for blob '" + path +
                                  "', which is not a usable success status");
}

}  // namespace blobfetch
