#include "support/azurite.h"

#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "support/nginx.h"

namespace blobfetch::test {
namespace {

constexpr const char *kAccount = "devstoreaccount1";
// Azurite's documented development key (public; not a secret).
constexpr const char *kKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

std::string base64(const unsigned char *data, int len) {
    std::string out(static_cast<std::size_t>(4 * ((len + 2) / 3)), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), data, len);
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string unbase64(const std::string &text) {
    std::string out(text.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(text.data()), static_cast<int>(text.size()));
    if (n < 0) throw std::runtime_error("bad base64");
    for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) --n;  // padding decodes as zero bytes
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string url_encode(const std::string &s) {
    static const char *hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out.push_back(static_cast<char>(c));
        else out += {'%', hex[c >> 4], hex[c & 15]};
    }
    return out;
}

}  // namespace

std::string AzuriteServer::binary() {
    const std::string p = source_dir() + "/.ci/node/node_modules/.bin/azurite-blob";
    return access(p.c_str(), X_OK) == 0 ? p : std::string();
}

AzuriteServer::AzuriteServer() {
    if (binary().empty()) throw std::runtime_error("azurite is not installed (bash .ci/deps.sh installs it)");
    m_port = pick_free_port();
    m_process = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{binary(), "--blobHost", "127.0.0.1", "--blobPort", std::to_string(m_port), "--location",
                                 m_dir / "data", "--silent", "--skipApiVersionCheck"},
        ProcessOptions{}, m_dir / "out.log", m_dir / "err.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!port_accepts(m_port)) {
        if (std::chrono::steady_clock::now() > deadline || !m_process->running())
            throw std::runtime_error("azurite did not start: " + read_file(m_dir / "err.log"));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

AzuriteServer::~AzuriteServer() {
    if (m_process) {
        m_process->signal(SIGTERM);
        m_process->wait();
    }
}

std::string AzuriteServer::account_url() const {
    return "http://127.0.0.1:" + std::to_string(m_port) + "/" + kAccount;
}

std::string AzuriteServer::sas() const {
    // Account SAS, version 2019-12-12: the string to sign is the account and
    // the signed fields, one per line, in this order.
    const std::string sv = "2019-12-12", sp = "rwdlacup", ss = "b", srt = "sco", se = "2099-01-01T00:00:00Z",
                      spr = "http,https";
    const std::string to_sign = std::string(kAccount) + "\n" + sp + "\n" + ss + "\n" + srt + "\n\n" + se + "\n\n" +
                                spr + "\n" + sv + "\n";
    const std::string key = unbase64(kKey);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char *>(to_sign.data()),
         to_sign.size(), mac, &mac_len);
    return "sv=" + sv + "&ss=" + ss + "&srt=" + srt + "&sp=" + sp + "&se=" + url_encode(se) + "&spr=" +
           url_encode(spr) + "&sig=" + url_encode(base64(mac, static_cast<int>(mac_len)));
}

std::string AzuriteServer::bad_sas() const {
    std::string s = sas();
    return s.substr(0, s.size() - 6) + "AAAAAA";
}

void AzuriteServer::create_container(const std::string &name) const {
    ProcessResult r = run_process(
        {"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", account_url() + "/" + name + "?restype=container&" + sas()});
    if (r.out != "201" && r.out != "409") throw std::runtime_error("cannot create container: HTTP " + r.out + r.err);
}

std::string AzuriteServer::upload(const std::string &container, const std::string &blob,
                                  const std::string &path) const {
    ProcessResult r = run_process({"curl", "-sS", "-D", "-", "-o", "/dev/null", "-X", "PUT", "-H",
                                   "x-ms-blob-type: BlockBlob", "--data-binary", "@" + path,
                                   account_url() + "/" + container + "/" + blob + "?" + sas()});
    if (r.exit_code != 0 || r.out.find(" 201") == std::string::npos)
        throw std::runtime_error("upload failed: " + r.out + r.err);
    const auto at = r.out.find("etag: ");
    if (at == std::string::npos) return {};
    return r.out.substr(at + 6, r.out.find('\r', at) - at - 6);
}

}  // namespace blobfetch::test
