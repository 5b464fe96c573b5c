// The Windows part of the test support (process.h): files, temporary
// directories under %TEMP%, and background processes.
#ifdef _WIN32
#include <windows.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

#include "io/file.h"
#include "io/win32.h"
#include "support/process.h"

namespace blobfetch::test {
namespace {

// The process handles of the children, by pid (process.h keeps a pid only).
std::mutex g_mutex;
std::map<pid_t, HANDLE> g_children;

HANDLE child(pid_t pid) {
    std::lock_guard lock(g_mutex);
    auto it = g_children.find(pid);
    return it == g_children.end() ? nullptr : it->second;
}

// One argument quoted as CommandLineToArgvW reads it back.
std::wstring quoted(const std::wstring &arg) {
    if (!arg.empty() && arg.find_first_of(L" \t\"") == std::wstring::npos) return arg;
    std::wstring out = L"\"";
    std::size_t backslashes = 0;
    for (wchar_t c : arg) {
        if (c == L'\\') {
            ++backslashes;
            continue;
        }
        if (c == L'"') out.append(2 * backslashes + 1, L'\\');
        else out.append(backslashes, L'\\');
        backslashes = 0;
        out += c;
    }
    out.append(2 * backslashes, L'\\');
    return out + L"\"";
}

HANDLE inheritable_file(const std::string &path) {
    SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
    return CreateFileW(win32::long_path(path_from_utf8(path)).c_str(), GENERIC_WRITE,
                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa, CREATE_ALWAYS,
                       FILE_ATTRIBUTE_NORMAL, nullptr);
}

}  // namespace

BackgroundProcess::BackgroundProcess(const std::vector<std::string> &argv, const ProcessOptions &options,
                                     const std::string &out_file, const std::string &err_file) {
    std::wstring command;
    for (const auto &a : argv) command += (command.empty() ? L"" : L" ") + quoted(win32::widen(a));
    std::wstring exe = win32::widen(argv.at(0));
    if (std::filesystem::path(exe).extension().empty()) exe += L".exe";
    HANDLE out = inheritable_file(out_file), err = inheritable_file(err_file);
    STARTUPINFOW si{};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = out;
    si.hStdError = err;
    PROCESS_INFORMATION pi{};
    (void)options;  // (env, cwd: not needed by the Windows tests yet)
    const BOOL ok = CreateProcessW(exe.c_str(), command.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi);
    CloseHandle(out);
    CloseHandle(err);
    if (!ok) throw std::runtime_error("cannot start " + argv.at(0) + ": " + win32::error_text(GetLastError()));
    CloseHandle(pi.hThread);
    m_pid = static_cast<pid_t>(pi.dwProcessId);
    std::lock_guard lock(g_mutex);
    g_children[m_pid] = pi.hProcess;
}

BackgroundProcess::~BackgroundProcess() {
    if (HANDLE h = child(m_pid)) {
        if (WaitForSingleObject(h, 0) == WAIT_TIMEOUT) {
            TerminateProcess(h, 137);
            WaitForSingleObject(h, INFINITE);
        }
        CloseHandle(h);
        std::lock_guard lock(g_mutex);
        g_children.erase(m_pid);
    }
}

void BackgroundProcess::signal(int sig) {
    if (HANDLE h = child(m_pid); h && sig == SIGKILL) TerminateProcess(h, 137);
}

void BackgroundProcess::signal_group(int sig) { signal(sig); }

int BackgroundProcess::wait() {
    HANDLE h = child(m_pid);
    if (!h) return m_status;
    WaitForSingleObject(h, INFINITE);
    DWORD code = 0;
    GetExitCodeProcess(h, &code);
    m_reaped = true;
    m_status = code == 137 ? -1 : static_cast<int>(code);
    return m_status;
}

bool BackgroundProcess::running() {
    HANDLE h = child(m_pid);
    return h && WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
}

bool BackgroundProcess::exited() const {
    HANDLE h = child(m_pid);
    return !h || WaitForSingleObject(h, 0) != WAIT_TIMEOUT;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path_from_utf8(path), std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string &path, const std::string &data) {
    std::filesystem::create_directories(path_from_utf8(path).parent_path());
    std::ofstream out(path_from_utf8(path), std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

TempDir::TempDir() {
    wchar_t base[MAX_PATH + 1];
    const DWORD n = GetTempPathW(MAX_PATH + 1, base);
    if (n == 0) throw std::runtime_error("GetTempPathW failed");
    std::random_device random;
    for (int attempt = 0; attempt < 100; ++attempt) {
        const std::string name = "blobfetch-test-" + std::to_string(GetCurrentProcessId()) + "-" +
                                 std::to_string(random() % 1000000);
        const std::string path = win32::narrow(std::wstring(base, n)) + name;
        if (CreateDirectoryW(win32::widen(path).c_str(), nullptr)) {
            m_path = path;
            for (char &c : m_path)
                if (c == '\\') c = '/';
            return;
        }
    }
    throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_from_utf8(m_path), ec);
}

std::string bin_dir() { return BLOBFETCH_BIN_DIR; }
std::string source_dir() { return BLOBFETCH_SOURCE_DIR; }
std::string host_binary() { return bin_dir() + "/blobfetch.exe"; }
std::string plugin_module() { return bin_dir() + "/blobfetch_plugin.dll"; }

}  // namespace blobfetch::test
#endif  // _WIN32
