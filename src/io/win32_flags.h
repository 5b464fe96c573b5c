#pragma once
// Windows: the POSIX open flags that the C runtime lacks, so that the
// platform-neutral callers of DirHandle::open and open_for_reading compile
// unchanged. Each means nothing more to do there, for the reason given:
//   O_CLOEXEC    handles are created non-inheritable (no security attributes)
//   O_NOFOLLOW   DirHandle never follows a final link anyway: it opens with
//                FILE_FLAG_OPEN_REPARSE_POINT and refuses a reparse point (ELOOP)
//   O_NONBLOCK   no FIFOs live in a Windows directory to block an open
//   O_DIRECTORY  directories are opened only by DirHandle itself
#ifdef _WIN32
#include <fcntl.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif
#ifndef O_NONBLOCK
#define O_NONBLOCK 0
#endif
#ifndef O_DIRECTORY
#define O_DIRECTORY 0
#endif
#endif  // _WIN32
