// Fuzz target: response-header handling. The input is split at NUL bytes
// into a Content-Range value (also read as a 416's "bytes */N"), a
// Retry-After value, a raw header line and ETag/Last-Modified values; the
// first bytes choose the status, the request and the known size. Nothing may
// crash, and an accepted 206 must match the request exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "download/response_check.h"
#include "net/http_headers.h"

int blobfetch_fuzz_headers(const std::uint8_t *data, std::size_t size) {
    using namespace blobfetch;
    if (size < 8) return 0;
    const std::uint8_t *ctl = data;
    std::vector<std::string> parts(1);
    for (std::size_t i = 8; i < size; ++i) {
        if (data[i] == 0 && parts.size() < 5) parts.emplace_back();
        else parts.back().push_back(static_cast<char>(data[i]));
    }
    parts.resize(5);

    if (auto cr = parse_content_range(parts[0])) {
        if (cr->first < 0 || cr->last < cr->first || (cr->total >= 0 && cr->last >= cr->total)) std::abort();
    }
    if (auto total = parse_unsatisfied_range(parts[0])) {
        if (*total < 0) std::abort();
    }
    if (auto ra = parse_retry_after(parts[1], 1'700'000'000)) {
        if (ra->count() < 0) std::abort();
    }
    std::string name, value;
    if (split_header_line(parts[2], name, value)) {
        for (char c : name)
            if (c >= 'A' && c <= 'Z') std::abort();  // names come out lower-cased
    }

    static const long statuses[] = {0, 200, 206, 204, 416, 500};
    ResponseHead head;
    head.status = statuses[ctl[0] % 6];
    head.content_range = parts[0];
    head.content_length = ctl[1] & 1 ? -1 : static_cast<std::int64_t>(ctl[2]) * 1000;
    head.etag = parts[3];
    head.last_modified = parts[4];
    RequestedRange req;
    req.ranged = ctl[3] & 1;
    req.begin = req.ranged ? static_cast<std::int64_t>(ctl[4]) * 100 : 0;
    req.end = ctl[5] & 1 ? -1 : req.begin + 1 + ctl[5] * 10;
    const std::int64_t known = ctl[6] & 1 ? -1 : static_cast<std::int64_t>(ctl[7]) * 1000;
    RemoteIdentity identity{ctl[6] & 2 ? "\"a\"" : "", ""};
    const bool size_given = ctl[6] & 4;
    const HeadCheck c = check_response_head(req, known, size_given, identity, head, "http://h/b", "b");
    // A validator the known identity has and the response lacks is another remote.
    if (c.verdict == HeadVerdict::accept && !identity.empty() &&
        !identity.compatible(RemoteIdentity::from_response(head.etag, head.last_modified)))
        std::abort();
    // A learned size that no longer holds is never a reject: the remote changed.
    if (!size_given && c.verdict == HeadVerdict::reject && c.error.code() == Errc::verify) std::abort();
    if (c.verdict == HeadVerdict::reject && c.error.message().empty()) std::abort();
    if (c.verdict == HeadVerdict::accept && head.status == 206) {
        auto cr = parse_content_range(head.content_range);
        if (!cr || cr->first != req.begin || !req.ranged) std::abort();
        if (known >= 0 && cr->total >= 0 && cr->total != known) std::abort();
    }
    return 0;
}

#ifdef BLOBFETCH_FUZZ_MAIN
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    return blobfetch_fuzz_headers(data, size);
}
#endif
