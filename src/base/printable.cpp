#include "base/printable.h"

#include <vector>

namespace blobfetch {
namespace {

// The code point of the UTF-8 sequence at `s[i]` and its length; 0 for a
// byte that starts none (invalid, overlong, a surrogate, beyond U+10FFFF).
std::size_t utf8_at(std::string_view s, std::size_t i, char32_t &cp) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    cp = n == 1 ? c : c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

bool shown_as_is(char32_t cp) {
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return false;  // C0, DEL, C1
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F)
        return false;  // bidirectional overrides and marks: they reorder what follows on the terminal
    return true;
}

}  // namespace

std::string printable_text(std::string_view text, std::size_t max_bytes) {
    std::string out;
    std::vector<std::size_t> ends;  // where each character of `out` ends
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_at(text, i, cp);
        if (n != 0 && shown_as_is(cp)) out.append(text.substr(i, n));
        else out += '?';
        ends.push_back(out.size());
        i += n == 0 ? 1 : n;
    }
    if (out.size() <= max_bytes) return out;
    std::size_t keep = 0;  // the longest whole-character prefix that leaves room for "..."
    for (const std::size_t e : ends)
        if (e + 3 <= max_bytes) keep = e;
    return out.substr(0, keep) + "...";
}

}  // namespace blobfetch
