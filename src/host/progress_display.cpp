#include "host/progress_display.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "host/caller_watch.h"

namespace blobfetch::host {

namespace {
// stderr, noting a reader that went away (EPIPE: the caller is gone, see
// host/caller_watch.h).
template <class... Args>
void write_err(const char *format, Args... args) {
    if (std::fprintf(stderr, format, args...) < 0 && errno == EPIPE) note_caller_gone();
}
}  // namespace


std::string human_bytes(std::int64_t bytes) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes < 0 ? 0 : bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

ProgressFigures progress_figures(std::int64_t total, std::int64_t done, bool all_in) {
    ProgressFigures f;
    f.done = std::max<std::int64_t>(done, 0);
    f.total = total >= 0 ? std::max(total, f.done) : all_in ? f.done : -1;
    f.percent = f.total > 0 ? static_cast<int>(std::min<std::int64_t>(100, f.done * 100 / f.total)) : all_in ? 100 : 0;
    return f;
}

ProgressDisplay::ProgressDisplay(Mode mode, std::vector<std::string> blob_names, int verbosity)
    : m_mode(mode), m_names(std::move(blob_names)), m_verbosity(verbosity), m_states(m_names.size(), BF_BLOB_QUEUED) {
    const char *term = std::getenv("TERM");
    const char *no_color = std::getenv("NO_COLOR");  // https://no-color.org: set and not empty
    m_color = m_mode == Mode::bar && !(no_color && *no_color) && !(term && std::string(term) == "dumb");
}

void ProgressDisplay::on_progress(const bf_progress &p) {
    std::lock_guard lock(m_mutex);
    m_total = p.total_bytes;
    m_done = p.done_bytes;
    if (p.blob_index != BF_NO_BLOB && p.blob_index < m_states.size()) {
        m_states[p.blob_index] = p.blob_state;
        if (m_verbosity >= 1 && m_mode != Mode::none) {
            static const char *names[] = {"queued", "skipped (cached)", "waiting for lock", "downloading",
                                          "verifying", "done", "failed"};
            const char *state = p.blob_state >= 0 && p.blob_state <= 6 ? names[p.blob_state] : "?";
            if (m_bar_visible) std::fputs("\r\x1b[K", stderr);
            m_bar_visible = false;
            write_err( "blobfetch: %s: %s%s%s\n", m_names[p.blob_index].c_str(), state,
                         p.detail ? " " : "", p.detail ? p.detail : "");
        }
        return;
    }
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - m_speed_at).count();
    if (dt >= 0.5) {
        double inst = static_cast<double>(m_done - m_speed_bytes) / dt;
        m_speed = m_speed == 0 ? inst : 0.7 * m_speed + 0.3 * inst;
        m_speed_at = now;
        m_speed_bytes = m_done;
    }
    auto interval = m_mode == Mode::bar ? std::chrono::milliseconds(100) : std::chrono::milliseconds(2000);
    if (now - m_last_draw >= interval) {
        draw(false);
        m_last_draw = now;
    }
}

void ProgressDisplay::print_line(const std::string &line) {
    std::lock_guard lock(m_mutex);
    if (m_bar_visible) std::fputs("\r\x1b[K", stderr);
    m_bar_visible = false;
    write_err( "%s\n", line.c_str());
}

void ProgressDisplay::finish() {
    std::lock_guard lock(m_mutex);
    draw(true);
    if (m_bar_visible) std::fputs("\n", stderr);
    m_bar_visible = false;
}

void ProgressDisplay::draw(bool final) {
    if (m_mode == Mode::none) return;
    std::size_t ok = 0, failed = 0;
    for (auto s : m_states) {
        ok += (s == BF_BLOB_DONE || s == BF_BLOB_SKIPPED);
        failed += (s == BF_BLOB_FAILED);
    }
    // Bytes decide; with sizes unknown only a set that is wholly in is 100 %.
    const ProgressFigures f = progress_figures(m_total, m_done, ok == m_states.size());
    const int percent = f.percent;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    double speed = final && elapsed > 0 ? 0 : m_speed;
    std::string eta;
    if (!final && speed > 1 && f.total > f.done) {
        long secs = static_cast<long>(static_cast<double>(f.total - f.done) / speed);
        char b[32];
        std::snprintf(b, sizeof b, "  ETA %ld:%02ld", secs / 60, secs % 60);
        eta = b;
    }
    std::string line = std::to_string(percent) + "%  " + human_bytes(f.done) + " / " +
                       (f.total >= 0 ? human_bytes(f.total) : std::string("?")) + "  " +
                       (speed > 0 ? human_bytes(static_cast<std::int64_t>(speed)) + "/s  " : std::string()) +
                       std::to_string(ok) + "/" + std::to_string(m_states.size()) + " blobs" +
                       (failed ? ", " + std::to_string(failed) + " failed" : std::string()) + eta;
    if (m_mode == Mode::bar) {
        constexpr int width = 24;
        int filled = percent * width / 100;
        const std::string done(static_cast<std::size_t>(filled), '#');
        std::string bar = "[" + (m_color ? "\x1b[32m" + done + "\x1b[0m" : done) +
                          std::string(static_cast<std::size_t>(width - filled), '-') + "] ";
        write_err( "\r\x1b[K%s%s", bar.c_str(), line.c_str());
        std::fflush(stderr);
        m_bar_visible = true;
    } else if (line != m_last_line) {
        write_err( "blobfetch: %s\n", line.c_str());
        m_last_line = line;
    }
}

}  // namespace blobfetch::host
