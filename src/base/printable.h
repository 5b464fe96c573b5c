#pragma once
// Text that someone else chose (a server's header, another user's lock-file
// line) as it may be shown in a message or on a terminal.

#include <cstddef>
#include <string>
#include <string_view>

namespace blobfetch {

// `text` made safe to print: valid UTF-8 without control characters (C0,
// DEL, C1) nor bidirectional overrides and marks (they reorder what follows
// on a terminal); every other byte or character becomes '?'. Cut, at a
// character, to at most `max_bytes` bytes, "..." marking the cut
// (max_bytes >= 3). Pure; O(size).
std::string printable_text(std::string_view text, std::size_t max_bytes);

}  // namespace blobfetch
