#!/usr/bin/env bash
# Shows that the recorder sees every file operation of a fetch on the cache
# directory: one scenario is recorded under strace -f -y, and the system calls
# strace shows on paths or descriptors beneath that run's cache directory are
# counted per kind beside the recorder's log.
#   bash tests/crash/strace_check.sh [build dir] [scenario]
set -euo pipefail
build=${1:-build}
scenario=${2:-chunked_strict_fresh}
out=$(mktemp -d)
keep="$out/keep"
BLOBFETCH_CRASH_RECORD_ONLY=1 BLOBFETCH_CRASH_KEEP="$keep" \
  strace -f -y -qq -o "$out/strace" \
  -e trace=open,openat,openat2,creat,write,writev,pwrite64,pwritev,pwritev2,ftruncate,fallocate,fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir,close,dup,dup2,dup3,fcntl,flock,copy_file_range,sendfile,mmap,io_uring_setup \
  "$build/bin/blobfetch_crash_tests" --gtest_filter="*/$scenario" > "$out/test.out"
cache=$(sed -n 's/^recorded [0-9]* operations in \(.*\); kept in .*/\1/p' "$out/test.out")
[ -n "$cache" ] || { cat "$out/test.out"; exit 1; }
# Only successful calls on the cache (a path or a descriptor's path under it),
# made by the host (not by the test process, the first pid, which builds and
# reads the directories itself).
main=$(head -1 "$out/strace" | cut -d' ' -f1)
grep -F "$cache" "$out/strace" | grep -v "^$main " | grep -v ' = -1 ' | grep -v 'resumed>' > "$out/calls" || true
kind() {  # strace name -> recorder op
  case $1 in
    open|openat|openat2|creat) echo open ;; write|writev|pwrite64|pwritev|pwritev2) echo write ;;
    ftruncate) echo trunc ;; fallocate) echo falloc ;; rename|renameat|renameat2) echo rename ;;
    link|linkat) echo link ;; unlink|unlinkat) echo unlink ;; mkdir|mkdirat) echo mkdir ;;
    fcntl) echo fcntl ;; *) echo "$1" ;;
  esac
}
declare -A seen
while read -r line; do
  name=$(sed -E 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/' <<<"$line")
  case $name in
    fcntl) grep -qE 'F_(OFD_)?SETLKW?|F_(OFD_)?GETLK' <<<"$line" && seen[lock]=$((${seen[lock]:-0} + 1)) ;
           grep -qE 'F_DUPFD' <<<"$line" && seen[dup]=$((${seen[dup]:-0} + 1)) ;;
    unlinkat) grep -q AT_REMOVEDIR <<<"$line" && k=rmdir || k=unlink; seen[$k]=$((${seen[$k]:-0} + 1)) ;;
    *) k=$(kind "$name"); seen[$k]=$((${seen[$k]:-0} + 1)) ;;
  esac
done < "$out/calls"
printf '%-10s %8s %8s\n' op strace recorder
status=0
for k in open write trunc falloc fsync fdatasync rename link unlink rmdir mkdir dup close lock flock copy_file_range sendfile mmap; do
  r=$(cut -f1 "$keep/$scenario/ops.log" | grep -cx "$k" || true)
  s=${seen[$k]:-0}
  printf '%-10s %8s %8s\n' "$k" "$s" "$r"
  # The recorder also logs what it cannot attribute to a syscall strace shows with the path.
  if [ "$k" != lock ] && [ "$k" != dup ] && [ "$s" != "$r" ]; then status=1; fi
done
echo "strace output: $out/strace; calls on the cache: $out/calls"
exit $status
