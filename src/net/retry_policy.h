#pragma once
// When and how long to wait before retrying a failed request.

#include <chrono>
#include <optional>

namespace blobfetch {

struct RetryPolicy {
    int max_retries = 4;                                  // retries after the first try
    std::chrono::milliseconds base_delay{250};            // first backoff (before jitter)
    std::chrono::milliseconds max_delay{30'000};          // cap of the exponential backoff
    std::chrono::milliseconds max_retry_after{120'000};   // cap on a server's Retry-After

    // Delay before retry number `attempt` (1-based): exponential backoff with
    // full jitter in [delay/2, delay], or the server's Retry-After when it
    // gave one (capped). Thread-safe.
    std::chrono::milliseconds delay(int attempt, std::optional<std::chrono::seconds> retry_after) const;
};

}  // namespace blobfetch
