#pragma once
// Stopping when the caller is gone: `blobfetch x-script` (and `fetch
// --stop-with-caller`) must not outlive the program that asked for the
// download. vcpkg runs the script through `sh -c`, and dash does not exec
// the last command, so blobfetch's parent is the shell and the caller is its
// parent; vcpkg forwards no signal, and a CI timeout that kills vcpkg's pid
// alone re-parents the shell and blobfetch to init. Unwatched, they kept
// downloading and placed a complete `<file>.<pid>.part` that nobody would
// ever rename or remove.
//
// What is watched (Linux):
// - the parent, with PR_SET_PDEATHSIG (SIGTERM on its death), plus a check
//   right after setting it (it may be dead already);
// - when the parent is a shell (sh, dash, bash, ash, zsh, ksh, mksh, busybox),
//   also the shell's parent, the real caller, through a pidfd (pidfd_open)
//   polled by a thread, or, where pidfd_open is missing, by looking every
//   100 ms whether the shell's parent changed;
// - the output: SIGPIPE is ignored, and a write to stdout/stderr that fails
//   with EPIPE (nobody reads the pipe any more) counts as the caller gone
//   (host/progress_display.h reports it through output_broken()).
// Elsewhere, the parent pid is compared every 100 ms. A process whose parent
// is init from the start (a container's entrypoint, a systemd unit) has no
// caller to outlive: only its output counts.
//
// When the caller is gone, caller_gone() turns true and `on_gone` (given to
// start) is called once, from a signal handler or the watch thread: it must
// be async-signal-safe (set an atomic). The fetch is then cancelled like a
// Ctrl-C: what landed stays for a resume, and nothing is placed at {dst}.

#include <functional>
#include <string>

namespace blobfetch::host {

// Starts watching. `on_gone` must be async-signal-safe. Returns a short
// description of what is watched, for -v ("parent 123 (sh) and caller 120").
std::string start_caller_watch(void (*on_gone)());

// True once the caller is known to be gone (any of the above).
bool caller_gone();

// Records that the caller is gone (an EPIPE on output).
void note_caller_gone();

}  // namespace blobfetch::host
