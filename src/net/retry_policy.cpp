#include "net/retry_policy.h"

#include <algorithm>
#include <random>

namespace blobfetch {

std::chrono::milliseconds RetryPolicy::delay(int attempt, std::optional<std::chrono::seconds> retry_after) const {
    if (retry_after) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after);
        return std::min(ms, max_retry_after);
    }
    long long d = base_delay.count();
    for (int i = 1; i < attempt && d < max_delay.count(); ++i) d *= 2;
    d = std::min<long long>(d, max_delay.count());
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<long long> jitter(d / 2, d);
    return std::chrono::milliseconds(jitter(rng));
}

}  // namespace blobfetch
