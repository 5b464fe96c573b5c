#include "support/nginx.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace blobfetch::test {
namespace {

std::string nginx_binary() {
    for (const char *p : {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"})
        if (access(p, X_OK) == 0) return p;
    return "nginx";
}

}  // namespace

bool port_accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

int pick_free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        close(fd);
        throw std::runtime_error("cannot bind a free port");
    }
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

bool nginx_available() { return access(nginx_binary().c_str(), X_OK) == 0; }

NginxServer::NginxServer(NginxOptions options) : m_options(std::move(options)) {
    const std::string dir = m_dir.path();
    std::filesystem::create_directories(dir + "/logs");
    std::filesystem::create_directories(dir + "/tmp");
    for (int attempt = 0; attempt < 5; ++attempt) {
        m_port = pick_free_port();
        std::ostringstream conf;
        conf << "daemon off;\n"
             << (geteuid() == 0 ? "user root;\n" : "")
             << "worker_processes 1;\n"
             << "error_log " << dir << "/logs/error.log warn;\n"
             << "pid " << dir << "/nginx.pid;\n"
             << "events { worker_connections 4096; }\n"
             << "http {\n"
             << "  log_format bf '$request_method\\t$request_uri\\t$status\\t$body_bytes_sent\\t"
                "$bytes_sent\\t$http_range\\t$connection\\t$connection_requests\\t$http_user_agent';\n"
             << "  access_log " << dir << "/logs/access.log bf;\n"
             << "  client_body_temp_path " << dir << "/tmp/body;\n"
             << "  proxy_temp_path " << dir << "/tmp/proxy;\n"
             << "  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n"
             << "  uwsgi_temp_path " << dir << "/tmp/uwsgi;\n"
             << "  scgi_temp_path " << dir << "/tmp/scgi;\n"
             << "  default_type application/octet-stream;\n"
             << "  sendfile on;\n"
             << "  keepalive_requests 1000000;\n"
             << "  keepalive_timeout 60s;\n"
             << m_options.http_extra << "\n"
             << "  server {\n"
             << "    listen 127.0.0.1:" << m_port << ";\n"
             << "    root " << m_options.root << ";\n"
             << "    location / { }\n"
             << m_options.server_extra << "\n"
             << "  }\n"
             << "}\n";
        write_file(dir + "/nginx.conf", conf.str());
        m_process = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{nginx_binary(), "-p", dir, "-c", dir + "/nginx.conf"}, ProcessOptions{},
            dir + "/logs/stdout.log", dir + "/logs/stderr.log");
        // Readiness: poll until the port accepts connections or nginx exits
        // (e.g. the port was taken in between; then try another one).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            if (port_accepts(m_port)) return;
            if (!m_process->running()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        m_process.reset();
    }
    std::string err;
    try {
        err = read_file(dir + "/logs/stderr.log") + read_file(dir + "/logs/error.log");
    } catch (...) {
    }
    throw std::runtime_error("nginx did not start: " + err);
}

NginxServer::~NginxServer() {
    if (m_process) {
        m_process->signal(SIGQUIT);
        m_process->wait();
    }
}

std::string NginxServer::base_url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

std::vector<AccessLogEntry> NginxServer::access_log(std::size_t at_least) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        std::vector<AccessLogEntry> entries;
        std::ifstream in(m_dir.path() + "/logs/access.log");
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            AccessLogEntry e;
            std::string status, body, bytes, conn, reqs;
            std::getline(ls, e.method, '\t');
            std::getline(ls, e.uri, '\t');
            std::getline(ls, status, '\t');
            std::getline(ls, body, '\t');
            std::getline(ls, bytes, '\t');
            std::getline(ls, e.range, '\t');
            std::getline(ls, conn, '\t');
            std::getline(ls, reqs, '\t');
            std::getline(ls, e.user_agent, '\t');
            e.status = std::atoi(status.c_str());
            e.body_bytes_sent = std::atoll(body.c_str());
            e.bytes_sent = std::atoll(bytes.c_str());
            e.connection = std::atoll(conn.c_str());
            e.connection_requests = std::atoll(reqs.c_str());
            entries.push_back(std::move(e));
        }
        if (entries.size() >= at_least || std::chrono::steady_clock::now() > deadline) return entries;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void NginxServer::clear_access_log() const {
    std::ofstream(m_dir.path() + "/logs/access.log", std::ios::trunc);
}

}  // namespace blobfetch::test
