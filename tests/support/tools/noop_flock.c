/* LD_PRELOAD shim for the tests: a flock() that always succeeds and locks
   nothing, as flock behaves on some NFS, CIFS and Lustre mounts (PEERS.md #5).
   Processes started with it must notice that their locks are not enforced. */
#include <sys/file.h>

__attribute__((visibility("default"))) int flock(int fd, int operation) {
    (void)fd;
    (void)operation;
    return 0;
}
