#pragma once
// A real nginx on 127.0.0.1 for integration tests: its own configuration,
// prefix and logs in a temporary directory, a free port, an access log that
// records every request with the bytes sent and the connection it used.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace blobfetch::test {

struct AccessLogEntry {
    std::string method;
    std::string uri;
    int status = 0;
    std::int64_t body_bytes_sent = 0;
    std::int64_t bytes_sent = 0;       // headers + body
    std::string range;                 // the Range request header, "-" when absent
    std::int64_t connection = 0;       // connection serial number
    std::int64_t connection_requests = 0;
    std::string user_agent;
};

struct NginxOptions {
    std::string root;               // document root (required)
    std::string server_extra;       // extra directives inside the server block
    std::string http_extra;         // extra directives inside the http block
};

class NginxServer {
public:
    explicit NginxServer(NginxOptions options);
    ~NginxServer();  // stops nginx (SIGTERM, then SIGKILL) and reaps it
    NginxServer(const NginxServer &) = delete;
    NginxServer &operator=(const NginxServer &) = delete;

    int port() const { return m_port; }
    std::string base_url() const;  // "http://127.0.0.1:<port>"
    const std::string &root() const { return m_options.root; }

    // Parsed access log. Lines are written when a request completes, so pass
    // the number of entries you expect: the call waits (bounded, polling the
    // file) until at least that many are there.
    std::vector<AccessLogEntry> access_log(std::size_t at_least = 0) const;
    // Forgets everything logged so far (truncates the log).
    void clear_access_log() const;

private:
    NginxOptions m_options;
    TempDir m_dir;
    int m_port = 0;
    std::unique_ptr<BackgroundProcess> m_process;
};

// Finds a TCP port on 127.0.0.1 that was free a moment ago.
int pick_free_port();
// True when something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

// True if `nginx` can be run (tests that need it skip with a clear reason otherwise).
bool nginx_available();

}  // namespace blobfetch::test
