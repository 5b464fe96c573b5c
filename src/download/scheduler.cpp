#include "download/scheduler.h"

#include <algorithm>

#include "download/partial_file.h"

namespace blobfetch::detail {

std::int64_t chunk_size_for(std::int64_t blob_size, std::int64_t configured) {
    const auto max_chunks = static_cast<std::int64_t>(DownloadState::kMaxChunks);
    if (blob_size <= 0 || (blob_size - 1) / configured < max_chunks) return configured;
    constexpr std::int64_t kStep = 64 << 10;
    const std::int64_t needed = (blob_size - 1) / max_chunks + 1;
    return (needed + kStep - 1) / kStep * kStep;
}

std::optional<Piece> next_piece(Job &j, Clock::time_point now, Clock::time_point &wake) {
    // The first answer tells where the URL leads (redirects) and whether the
    // server serves ranges: until then, one request at a time.
    if (!j.url_answered && !j.transfers.empty()) return std::nullopt;
    std::erase_if(j.pieces, [](const Piece &p) { return p.ranged && p.end >= 0 && p.begin >= p.end; });
    for (auto it = j.pieces.begin(); it != j.pieces.end(); ++it) {
        if (it->ready_at <= now) {
            Piece p = *it;
            j.pieces.erase(it);
            return p;
        }
        wake = std::min(wake, it->ready_at);
    }
    if (!j.state || !j.ranges) return std::nullopt;
    const std::uint64_t n = j.state->chunks.size();
    // Every pending chunk is in flight, being written, in `pieces` or past
    // the cursor; should one ever be none of these, the rescan finds it.
    if (j.next_chunk >= n && j.transfers.empty() && j.pieces.empty() && j.pending_writes == 0 &&
        !j.state->chunks.all())
        j.next_chunk = 0;
    while (j.next_chunk < n && j.state->chunks.test(j.next_chunk)) ++j.next_chunk;
    if (j.next_chunk >= n) return std::nullopt;
    const std::uint64_t i = j.next_chunk++;
    const ChunkRange r = chunk_range(i, j.state->blob_size, j.state->chunk_size);
    // The first bytes of the chunk landed already (a resumed record's
    // prefix, or this run's own before a rescan): the rest.
    if (auto p = j.state->partial.find(i); p != j.state->partial.end())
        return Piece{r.begin + p->second.length, r.end, true, 0, {}, p->second.crc};
    return Piece{r.begin, r.end, true, 0, {}};
}

void restart_hash(Job &j) {
    if (!j.sha) return;
    if (j.hashing) j.sha_stale = true;
    else j.sha = BlobHashes::for_spec(*j.spec);
}

void forget_progress(Job &j, const RemoteIdentity &identity) {
    ++j.epoch;
    j.identity = identity;
    j.ranges = true;
    j.pieces.clear();
    j.next_chunk = 0;
    j.prefix = 0;
    j.landed = -1;
    j.hashed = 0;
    j.resumed = 0;  // nothing of an earlier run is reused any more
}

void rewrite_from_zero(Job &j) {
    ++j.epoch;  // completions of older transfers no longer count
    if (j.state) j.state->reset();
    j.next_chunk = 0;
    j.prefix = 0;
    j.hashed = 0;
    j.unsaved_bytes = 0;
    j.resumed = 0;  // every byte is rewritten: nothing of an earlier run is reused
    restart_hash(j);
}

bool replan_for_new_remote(Job &j, const RemoteIdentity &identity) {
    forget_progress(j, identity);
    restart_hash(j);
    if (j.mode == TransferMode::single) {
        j.size = j.spec->size >= 0 ? j.spec->size : -1;
        j.pieces.push_back(Piece{0, j.size, false, 0, {}});
    } else if (j.spec->size < 0) {
        // The size may have changed too: probe again.
        j.state.reset();
        j.size = -1;
        j.pieces.push_back(Piece{0, j.chunk_size, true, 0, {}});
    } else if (j.state) {
        j.state->reset();
        j.state->identity = identity;
    }
    return j.spec->size < 0;
}

bool plan_for_size(Job &j, std::int64_t total) {
    j.size = total;
    if (j.mode == TransferMode::single || total <= j.chunk_size) return false;  // one request covers it all
    const std::int64_t probe = j.chunk_size;
    j.chunk_size = chunk_size_for(total, j.chunk_size);
    j.state.emplace(total, j.chunk_size, url_identity_hash(j.spec->url), expected_digest(*j.spec));
    j.state->identity = j.identity;
    // Chunk 0 is the probe in flight, unless a huge blob needed larger chunks.
    j.next_chunk = j.chunk_size == probe ? 1 : 0;
    return true;
}

void Admission::count(Job &j) {
    if (j.counted) return;
    j.counted = true;
    ++m_active;
}

void Admission::uncount(Job &j) {
    if (!j.counted) return;
    j.counted = false;
    --m_active;
}

bool Admission::admit_held(Job &j) {
    if (j.counted || room()) return true;
    j.ready = true;
    m_ready.push_back(&j);
    return false;
}

Job *Admission::next_ready() {
    if (!room() || m_ready.empty()) return nullptr;
    Job *j = m_ready.front();
    m_ready.pop_front();
    j->ready = false;
    return j;
}

void Admission::done(Job &j) {
    uncount(j);
    if (j.ready) {
        std::erase(m_ready, &j);
        j.ready = false;
    }
}

}  // namespace blobfetch::detail
