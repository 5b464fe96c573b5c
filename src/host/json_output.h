#pragma once
// The one way the host prints a JSON document (`fetch --json`, `x-script`'s
// early errors, `status`, `gc` and `verify --json`): the document is always
// produced. Its strings quote bytes nobody checked: file names (any bytes on
// POSIX), servers' headers in messages, another user's text in a lock file.
// A byte that is not part of valid UTF-8 is printed as U+FFFD (the Unicode
// replacement character); the rest of the string is kept as it is.

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace blobfetch::host {

// `doc` as text, indented by 2; never throws on invalid UTF-8.
std::string json_text(const nlohmann::json &doc);

// Writes json_text(doc) and a newline to `out`, and flushes it.
void print_json(std::ostream &out, const nlohmann::json &doc);

}  // namespace blobfetch::host
