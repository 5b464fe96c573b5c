#pragma once
// Internal to src/lock: the lock file's layout (blob_lock.h documents it) and
// the holder text, shared by the POSIX and the Windows locks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace blobfetch::lockfile {

inline constexpr std::int64_t kLineSize = 64;        // the whole-directory holder line
inline constexpr std::int64_t kSlotBase = 64;        // holder slot s at kSlotBase + s * kSlotSize
inline constexpr std::int64_t kSlotSize = 128;
inline constexpr std::uint64_t kSlots = 4096;
inline constexpr std::int64_t kKeyBase = 1 << 20;    // the lock of key k is byte kKeyBase + k
inline constexpr std::int64_t kSelfTestByte = kKeyBase - 1;
inline constexpr std::uint64_t kKeyMask = (std::uint64_t{1} << 61) - 1;

// `PID:<pid>,Time:<now>` + `extra`, padded with spaces to `width` - 1 bytes
// and a '\n' (cut to fit).
std::string holder_text(const std::string &extra, std::size_t width);

// What a blob's holder writes after `PID:..,Time:..` in its slot: the key
// (what the lock is) and the name, cut so that the line fits.
std::string slot_suffix(std::uint64_t key, const std::string &name);

// The holder line `line` (read from key `key`'s slot) without its key, when
// it names that key, rebuilt by clean_holder(); "" when the slot was last
// written for another key (a slot is shared by every key with its residue)
// or does not parse.
std::string slot_holder(const std::string &line, std::uint64_t key);

// The lock file is writable by every user of the directory, so its text is
// anyone's: only what parses ever leaves src/lock, rebuilt from its fields.
// A holder line's fields: `PID:<1-10 digits>,Time:<YYYY-MM-DDTHH:MM:SSZ>`,
// then optionally `,Key:<16 hex>` (dropped) and `,Blob:<name>` (the rest of
// the line; printable_name()). Nothing else parses.
struct HolderFields {
    std::string pid, time, blob;  // blob: "" for the directory's holder
};
std::optional<HolderFields> parse_holder(std::string_view line);
// `line` rebuilt from parse_holder()'s fields ("PID:<pid>,Time:<time>[,Blob:
// <name>]"), or "" when it does not parse: what every holder text src/lock
// hands out (TryLock, LockProbe, BlobAttempt, BlobProbe) is.
std::string clean_holder(std::string_view line);
// `name` as it may reach a terminal: printable_text() (base/printable.h),
// at most kShownNameBytes bytes.
inline constexpr std::size_t kShownNameBytes = 80;
std::string printable_name(std::string_view name);

// The first line of `raw` (bytes read from the file), trailing blanks and an
// unwritten (sparse, NUL) tail dropped.
std::string first_line(std::string raw);

}  // namespace blobfetch::lockfile
