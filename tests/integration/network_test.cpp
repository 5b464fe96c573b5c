// Network hygiene, with the real host and nginx: TLS is verified (a test CA
// is refused until configured), redirects never downgrade https to http and
// are limited, secrets (Authorization headers, SAS query strings) never show
// in any output, proxies from the environment are used as libcurl does.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/blob_content.h"
#include "support/fixture.h"
#include "support/nginx.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

class Network : public ::testing::Test {
protected:
    void SetUp() override {
        if (!nginx_available()) GTEST_SKIP() << "nginx is not installed";
        m_artifacts = {{"tls", abi_key("tls"), 71, 3 << 20, {}}, {"plain", abi_key("plain"), 72, 5000, {}}};
        serve_artifacts(m_dir / "www", m_artifacts);
        make_certificates();
        m_tls_port = pick_free_port();
        m_proxy_port = pick_free_port();
        std::string extra = "server { listen 127.0.0.1:" + std::to_string(m_tls_port) + " ssl;\n" +
                            "  ssl_certificate " + (m_dir / "srv.crt") + "; ssl_certificate_key " +
                            (m_dir / "srv.key") + ";\n  root " + (m_dir / "www") + ";\n  location / { }\n" +
                            "  location /down/ { return 302 http://127.0.0.1:PLAIN/plain/" + m_artifacts[1].abi +
                            ".zip; }\n  location /loop/ { return 302 /loop/x; }\n}\n";
        m_nginx_extra = extra;
        m_nginx = std::make_unique<NginxServer>(NginxOptions{
            m_dir / "www", "location /secret/ { return 403; }", ""});
        // The TLS and proxy servers need the plain server's port: a second nginx.
        std::string tls = m_nginx_extra;
        tls.replace(tls.find("PLAIN"), 5, std::to_string(m_nginx->port()));
        tls += "server { listen 127.0.0.1:" + std::to_string(m_proxy_port) +
               ";\n  location / { proxy_pass http://127.0.0.1:" + std::to_string(m_nginx->port()) + "; }\n}\n";
        m_front = std::make_unique<NginxServer>(NginxOptions{m_dir / "www", "", tls});
    }

    void make_certificates() {
        const std::string d = m_dir.path();
        auto run = [&](std::vector<std::string> argv) {
            ProcessResult r = run_process(argv, {{}, d, ""});
            ASSERT_EQ(r.exit_code, 0) << r.err;
        };
        write_file(d + "/san.ext", "subjectAltName=IP:127.0.0.1\n");
        run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=blobfetch test CA"});
        run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"});
        run({"openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "srv.crt", "-days", "2", "-extfile", "san.ext"});
    }

    std::string tls_base() const { return "https://127.0.0.1:" + std::to_string(m_tls_port); }
    std::string manifest(const std::string &base, const nlohmann::json &options = nlohmann::json::object(),
                         std::size_t which = 0) {
        const std::string path = m_dir / "m.json";
        write_file(path, make_manifest(base, m_dir / "cache", {m_artifacts[which]}, options).dump());
        return path;
    }
    std::string cached(std::size_t which = 0) const { return m_dir / ("cache/" + m_artifacts[which].relative_path()); }

    TempDir m_dir;
    std::vector<TestArtifact> m_artifacts;
    int m_tls_port = 0, m_proxy_port = 0;
    std::string m_nginx_extra;
    std::unique_ptr<NginxServer> m_nginx, m_front;
};

TEST_F(Network, Tls_AnUnknownCaIsRefused_TheConfiguredCaIsAccepted) {
    HostRun refused = run_host_fetch(manifest(tls_base()));
    EXPECT_EQ(refused.process.exit_code, 1) << refused.process.err;
    EXPECT_NE(refused.process.err.find("certificate"), std::string::npos) << refused.process.err;
    EXPECT_NE(refused.process.err.find("ca_file"), std::string::npos) << "the message says what to do";
    EXPECT_FALSE(fs::exists(cached()));

    HostRun accepted = run_host_fetch(manifest(tls_base(), {{"ca_file", m_dir / "ca.crt"}}));
    ASSERT_EQ(accepted.process.exit_code, 0) << accepted.process.err;
    EXPECT_EQ(sha256_file_hex(cached()), m_artifacts[0].sha256) << "byte-exact over TLS, in chunks";
}

TEST_F(Network, RedirectFromHttpsToHttp_IsRefused_RedirectLoopsAreLimited) {
    const std::string m = m_dir / "down.json";
    nlohmann::json doc = make_manifest(tls_base(), m_dir / "cache", {m_artifacts[1]}, {{"ca_file", m_dir / "ca.crt"}});
    doc["sources"][0]["url"] = tls_base() + "/down/{name}";
    write_file(m, doc.dump());
    HostRun down = run_host_fetch(m);
    EXPECT_EQ(down.process.exit_code, 1) << down.process.err;
    EXPECT_NE(down.process.err.find("never redirects to http"), std::string::npos) << down.process.err;
    EXPECT_FALSE(fs::exists(cached(1)));

    doc["sources"][0]["url"] = tls_base() + "/loop/{name}";
    write_file(m, doc.dump());
    HostRun loop = run_host_fetch(m);
    EXPECT_EQ(loop.process.exit_code, 1) << loop.process.err;
    EXPECT_NE(loop.process.err.find("too many redirects"), std::string::npos) << loop.process.err;
}

TEST_F(Network, Secrets_NeverAppearInLogsErrorsProgressOrJson) {
    const std::string token = "SECRET-TOKEN-93f1";
    const std::string sas = "SECRET-SAS-77a2";
    auto check = [&](const HostRun &run) {
        for (const std::string *out : {&run.process.out, &run.process.err}) {
            EXPECT_EQ(out->find(token), std::string::npos) << *out;
            EXPECT_EQ(out->find(sas), std::string::npos) << *out;
        }
    };
    nlohmann::json doc = make_manifest(m_nginx->base_url(), m_dir / "cache", {m_artifacts[1]});
    doc["sources"][0]["headers"] = {"Authorization: Bearer " + token};
    // A failure: 403 from a URL carrying a SAS token.
    doc["sources"][0]["url"] = m_nginx->base_url() + "/secret/{name}?sv=2024&sig=" + sas;
    write_file(m_dir / "s.json", doc.dump());
    HostRun denied = run_host_fetch(m_dir / "s.json", {"-vv", "--no-progress"});
    EXPECT_EQ(denied.process.exit_code, 1);
    EXPECT_NE(denied.process.err.find("HTTP 403"), std::string::npos) << denied.process.err;
    check(denied);
    // A success, with progress and debug logs.
    doc["sources"][0]["url"] = m_nginx->base_url() + "/{name}/{sha}.zip?sig=" + sas;
    write_file(m_dir / "s.json", doc.dump());
    HostRun ok = run_host_fetch(m_dir / "s.json", {"-vv"});
    EXPECT_EQ(ok.process.exit_code, 0) << ok.process.err;
    check(ok);
    EXPECT_EQ(sha256_file_hex(cached(1)), m_artifacts[1].sha256);
}

TEST_F(Network, ProxyFromTheEnvironment_IsUsed) {
    // The manifest names a host that does not exist; only the proxy can serve it.
    const std::string m = m_dir / "p.json";
    write_file(m, make_manifest("http://blobs.example.invalid", m_dir / "cache", {m_artifacts[1]}).dump());
    m_front->clear_access_log();
    ProcessOptions env;
    env.env["http_proxy"] = "http://127.0.0.1:" + std::to_string(m_proxy_port);
    env.env["no_proxy"] = std::nullopt;
    env.env["NO_PROXY"] = std::nullopt;
    HostRun run = run_host_fetch(m, {}, env);
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    EXPECT_EQ(sha256_file_hex(cached(1)), m_artifacts[1].sha256);
    bool through_proxy = false;
    for (const auto &e : m_front->access_log(1)) through_proxy |= e.uri.find(m_artifacts[1].abi) != std::string::npos;
    EXPECT_TRUE(through_proxy);
}

}  // namespace
}  // namespace blobfetch::test
