#include "host/json_output.h"

namespace blobfetch::host {

std::string json_text(const nlohmann::json &doc) {
    return doc.dump(2, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

void print_json(std::ostream &out, const nlohmann::json &doc) { out << json_text(doc) << std::endl; }

}  // namespace blobfetch::host
