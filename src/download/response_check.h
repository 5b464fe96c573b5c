#pragma once
// Is a response what we asked for? A pure decision on the head of a
// successful response, kept apart from the network so every case is
// unit-tested (and fuzzed) without a server.

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "net/transport.h"
#include "state/download_state.h"

namespace blobfetch {

struct RequestedRange {
    std::int64_t begin = 0;
    std::int64_t end = -1;  // exclusive; -1: to the end of the blob
    bool ranged = false;    // a Range header was sent
};

enum class HeadVerdict {
    accept,          // write the body at `begin`
    range_ignored,   // 200 to a ranged request from the same remote (the server ignores Range),
                     // or a 206 that does not tell the size of a blob of unknown size:
                     // fetch the blob in one stream without Range
    remote_changed,  // the remote's validators differ from the ones the download started with
    reject,          // anything else: `error` says what and whether it is the source's fault
};

struct HeadCheck {
    HeadVerdict verdict = HeadVerdict::accept;
    Status error;                // for reject
    std::int64_t total = -1;     // the blob size the response implies, -1 when it does not say
    RemoteIdentity identity;     // the response's validators
};

// The error for a source whose size (`total`, as a Content-Range tells it in
// a 206 or a 416) is not the blob's `expected` size.
Status size_mismatch(std::string_view shown_url, std::string_view blob_path, std::int64_t total,
                     std::int64_t expected);

// `known_size` is the blob size (-1 unknown), `known` the validators recorded
// so far (empty: none yet). `size_given` says whether known_size is the
// descriptor's (a response of another size is the wrong file: reject) or was
// only learned, from an earlier response or a record (a response of another
// size means the remote changed: remote_changed). `shown_url` (already
// redacted) and `blob_path` name the blob in messages.
HeadCheck check_response_head(const RequestedRange &request, std::int64_t known_size, bool size_given,
                              const RemoteIdentity &known, const ResponseHead &head, std::string_view shown_url,
                              std::string_view blob_path);

}  // namespace blobfetch
