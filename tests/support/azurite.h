#pragma once
// Azurite, the Azure Storage emulator, on 127.0.0.1 for integration tests:
// its own port and data directory, the well-known development account, an
// account SAS computed here (HMAC-SHA256 with the account key), and blob
// uploads through the curl command line.

#include <memory>
#include <string>

#include "support/process.h"

namespace blobfetch::test {

class AzuriteServer {
public:
    // Path of azurite-blob installed by .ci/deps.sh, or "" when missing.
    static std::string binary();

    AzuriteServer();   // starts it; throws std::runtime_error when it cannot
    ~AzuriteServer();  // stops it

    // "http://127.0.0.1:<port>/devstoreaccount1"
    std::string account_url() const;
    // An account SAS (blob service; containers and objects; read, write,
    // create, list, delete) valid until 2099, without the leading '?'.
    std::string sas() const;
    // The same with a wrong signature (answers 403).
    std::string bad_sas() const;

    void create_container(const std::string &name) const;
    // Uploads the file at `path` as a block blob; returns its ETag.
    std::string upload(const std::string &container, const std::string &blob, const std::string &path) const;

private:
    TempDir m_dir;
    int m_port = 0;
    std::unique_ptr<BackgroundProcess> m_process;
};

}  // namespace blobfetch::test
