#pragma once
// Shows fetch progress on stderr: a single redrawn bar on a terminal, plain
// lines at most every two seconds otherwise. Log lines from any thread are
// interleaved without garbling the bar.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <blobfetch/fetch_provider.h>

namespace blobfetch::host {

std::string human_bytes(std::int64_t bytes);

// What a progress line shows from the figures a plugin reports: never more
// done than the total (a total below done shows as done), and once every blob
// is in, a total never known is what was done. `percent` is of the total when
// it is known and not 0, else 100 once every blob is in and 0 before. Pure.
struct ProgressFigures {
    std::int64_t done = 0;
    std::int64_t total = -1;  // -1: unknown ("?")
    int percent = 0;
};
ProgressFigures progress_figures(std::int64_t total, std::int64_t done, bool all_in);

class ProgressDisplay {
public:
    enum class Mode { bar, lines, none };

    ProgressDisplay(Mode mode, std::vector<std::string> blob_names, int verbosity);

    // Called on the fetch thread with every progress event.
    void on_progress(const bf_progress &p);
    // Thread-safe: prints one line to stderr (clearing the bar first).
    void print_line(const std::string &line);
    // Draws the final state and ends the bar line.
    void finish();

private:
    void draw(bool final);  // precondition: m_mutex held

    Mode m_mode;
    bool m_color = false;  // a terminal, NO_COLOR unset, TERM not dumb
    std::vector<std::string> m_names;
    int m_verbosity;
    std::mutex m_mutex;
    std::vector<bf_blob_state> m_states;
    std::int64_t m_total = -1;
    std::int64_t m_done = 0;
    bool m_bar_visible = false;
    std::string m_last_line;  // lines mode: never print the same line twice in a row
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point m_last_draw{};
    std::chrono::steady_clock::time_point m_speed_at = m_start;
    std::int64_t m_speed_bytes = 0;
    double m_speed = 0;  // bytes per second, smoothed
};

}  // namespace blobfetch::host
