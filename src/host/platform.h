#pragma once
// The host's few OS-specific pieces, behind one small interface:
// platform_posix.cpp and platform_win32.cpp (one of the two is compiled in;
// each file guards itself).

#include <functional>
#include <string>
#include <vector>

#include "io/dir_handle.h"

namespace blobfetch::host {

// The program's arguments as UTF-8: argv itself on POSIX; on Windows the
// UTF-16 command line (GetCommandLineW, CommandLineToArgvW) converted, so
// that a non-ASCII path on the command line survives whatever the ANSI code
// page is. argv[0] first.
std::vector<std::string> utf8_arguments(int argc, char **argv);

// Calls `on_interrupt` (which must be async-signal-safe: set an atomic) on
// the first Ctrl-C or termination request; a second one ends the process at
// once. POSIX: SIGINT and SIGTERM (SA_RESETHAND). Windows: the console's
// Ctrl-C, Ctrl-Break and close events (SetConsoleCtrlHandler; the handler
// runs on a thread of its own). A TerminateProcess (taskkill /F) is never
// seen, like SIGKILL.
void install_interrupt_handlers(void (*on_interrupt)());

// Whether stderr is a terminal (progress bar) rather than a pipe or file.
bool stderr_is_terminal();

// The names of the entries of `dir` ("." and ".." left out); empty when it
// cannot be read.
std::vector<std::string> entries_of(const DirHandle &dir);

// Whether the process that made a private partial file (partial_file.h)
// still runs, told by the lock it holds on the file for as long as it lives
// (positional_writer.h: flock on POSIX; on Windows a LockFileEx range).
enum class Owner { alive, gone, unknown };
Owner private_owner_of(const DirHandle &dir, const std::string &name);

}  // namespace blobfetch::host
