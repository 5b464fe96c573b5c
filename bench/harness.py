#!/usr/bin/env python3
"""blobfetch throughput harness: blobfetch against curl and aria2c, side by side.

One documented command (from the repository root, after a build in build/):

    python3 bench/harness.py                 # every scenario, 3 rounds, writes bench/RESULTS.md
    python3 bench/harness.py --scenarios A,C --rounds 5

It starts its own nginx on 127.0.0.1 (its own configuration in a temporary
directory; two server blocks: unthrottled, and `limit_rate 25m`; an access
log with $body_bytes_sent, $bytes_sent and $connection), generates the blobs,
and runs each scenario for blobfetch (the host loading the plugin, exactly as
a user runs it), curl and aria2c in alternation, several rounds after a
warm-up round. For every run it records wall time, CPU seconds (user+sys of
the tool and its children) and peak RSS; it reports the median and min-max,
MB/s, and the ratio blobfetch / peer computed round by round. Every output
is checked byte-exact after its timed run.

Method (this VM gives freed memory back to its host after about 2 s, and
writing into such memory costs about 1 s more per GiB): before each timed
run the outputs are deleted, `sync` runs, and the harness waits --settle
seconds (default 3); tools alternate round by round.

Scenarios:
  A  one 1 GiB blob, unthrottled loopback
  B  one 256 MiB blob behind `limit_rate 25m` (per request in nginx): 1, 4, 16 connections
  C  1,000 blobs of 16 KiB and 200 blobs of 1 MiB (aria2c -i -j16; curl, one process, URL after URL)
  D  resume: the fetch is stopped (SIGKILL, SIGINT) at about half way, then resumed; extra bytes
     beyond the blob size, from a server sending 1 MiB/s per connection
  E  everything already cached: 10,000 blobs, size-only and with SHA-256
  F  cancel latency with 16 transfers in flight (build/bin/blobfetch-bench-cancel)
  G  many small blobs: 10,000 blobs of 4 KiB (one directory per blob, as in C) into a fresh cache:
     blobfetch strict + SHA-256 and relaxed without a hash, aria2c -i -j16, curl URL after URL; then
     the system calls per blob (strace -f -c; --no-strace skips it) of a fresh fetch and of a rerun
     over the full cache

RESULTS.md is merged, not replaced: the sections of the scenarios run replace their earlier
versions, the other scenarios' sections are kept (each section carries a comment naming the
command and date that produced it). --also-out writes this run's sections alone to another file.
--work-dir puts the temporary directory elsewhere than /tmp (for example on a tmpfs: scenario G's
wall times on a file system that is slow to create inodes measure mostly that file system).
"""
import argparse
import concurrent.futures
import datetime
import filecmp
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
MIB = 1 << 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nginx:
    """nginx with two server blocks on 127.0.0.1: unthrottled and capped."""

    def __init__(self, work, root):
        self.dir = os.path.join(work, "nginx")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.port, self.capped_port, self.slow_port = free_port(), free_port(), free_port()
        self.log = os.path.join(self.dir, "logs", "access.log")
        user = "user root;" if os.geteuid() == 0 else ""
        tmp = os.path.join(self.dir, "tmp")
        conf = f"""daemon off; {user} worker_processes 1; error_log {self.dir}/logs/error.log warn;
pid {self.dir}/nginx.pid; events {{ worker_connections 4096; }}
http {{
  log_format bf '$request_uri\\t$status\\t$body_bytes_sent\\t$bytes_sent\\t$connection';
  access_log {self.log} bf;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  sendfile on; keepalive_requests 1000000; keepalive_timeout 60s;
  server {{ listen 127.0.0.1:{self.port}; root {root}; location / {{ }} }}
  server {{ listen 127.0.0.1:{self.capped_port}; root {root}; location / {{ limit_rate 25m; }} }}
  server {{ listen 127.0.0.1:{self.slow_port}; root {root}; location / {{ limit_rate 1m; }} }}
}}
"""
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["/usr/sbin/nginx", "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf")])
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.capped_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.slow_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def url(self, path, capped=False, slow=False):
        port = self.slow_port if slow else self.capped_port if capped else self.port
        return f"http://127.0.0.1:{port}/{path}"

    def clear_log(self):
        open(self.log, "w").close()

    def body_bytes(self, uri_prefix):
        total, n = 0, 0
        with open(self.log) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 5 and parts[0].startswith(uri_prefix):
                    total += int(parts[2])
                    n += 1
        return total, n

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def timed(argv, cwd=None):
    """Runs argv under GNU time; returns (wall s, cpu s, peak RSS KiB).

    GNU time (a small process) forks the tool, so the peak RSS is the tool's
    own: a child forked from this Python process would inherit Python's
    resident set as its starting high-water mark."""
    stats = tempfile.NamedTemporaryFile(prefix="bf-time-", delete=False)
    stats.close()
    try:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-o", stats.name, "-f", "%U %S %M"] + argv, cwd=cwd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
        with open(stats.name) as f:
            user, sys_, rss = f.read().split()[-3:]
        return wall, float(user) + float(sys_), int(rss)
    finally:
        os.unlink(stats.name)


def gen_blob(path, seed, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out = subprocess.run([os.path.join(BIN, "blobfetch-testgen"), str(seed), str(size), path],
                         check=True, capture_output=True, text=True).stdout
    return out.split()[0]


def write_manifest(path, cache, base_url, artifacts, options=None):
    """artifacts: list of (name, size, sha256 or None); URLs are base_url/{name}/k.zip."""
    m = {"version": 1, "cache_dir": cache, "cache_path": "{name}/k.zip",
         "sources": [{"url": base_url + "/{name}/k.zip"}],
         "artifacts": []}
    if options:
        m["options"] = options
    for name, size, sha in artifacts:
        a = {"name": name, "sha": "0" * 64, "size": size}  # (an ABI key as vcpkg's: 64 hex digits)
        if sha:
            a["sha256"] = sha
        m["artifacts"].append(a)
    with open(path, "w") as f:
        json.dump(m, f)
    return path


class Scenario:
    """Runs tools in alternation; keeps per-round samples."""

    def __init__(self, args, title, bytes_per_run):
        self.args, self.title, self.bytes = args, title, bytes_per_run
        self.tools = []  # (name, prepare, argv, check)
        self.samples = {}

    def tool(self, name, argv, prepare=None, check=None):
        self.tools.append((name, argv, prepare, check))

    def run(self):
        for r in range(self.args.rounds + 1):
            for name, argv, prepare, check in self.tools:
                if prepare:
                    prepare()
                subprocess.run(["sync"], check=True)
                time.sleep(self.args.settle)
                wall, cpu, rss = timed(argv)
                if check:
                    check()
                if r > 0:  # round 0 is the warm-up
                    self.samples.setdefault(name, []).append((wall, cpu, rss))
            print(f"  {self.title}: round {r} done", flush=True)
        return self

    def table(self, reference="blobfetch"):
        lines = [f"| {self.title} | median s | min-max s | MB/s | CPU s | peak RSS MiB | blobfetch / this (per-round median) |",
                 "|---|---|---|---|---|---|---|"]
        ref = self.samples.get(reference)
        for name, _, _, _ in self.tools:
            s = self.samples[name]
            walls = [x[0] for x in s]
            med = statistics.median(walls)
            mbps = self.bytes / MIB / med if self.bytes else 0
            ratio = ""
            if ref and name != reference:
                ratio = f"{statistics.median([a[0] / b[0] for a, b in zip(ref, s)]):.2f}"
            lines.append(f"| {name} | {med:.2f} | {min(walls):.2f}-{max(walls):.2f} | {mbps:.0f} | "
                         f"{statistics.median([x[1] for x in s]):.2f} | {max(x[2] for x in s) / 1024:.1f} | {ratio} |")
        return "\n".join(lines)


def before_name(args, variant=""):
    """The row name of the older build given with --before."""
    return f"blobfetch before ({args.before_label})" + (f", {variant}" if variant else "")


def rm(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def same(a, b):
    if not filecmp.cmp(a, b, shallow=False):
        raise RuntimeError(f"output {a} differs from {b}")


def scenario_a(args, work, nginx, out):
    size = args.size_mib * MIB
    src = os.path.join(work, "www", "a", "k.zip")
    sha = gen_blob(src, 42, size)
    url = nginx.url("a/k.zip")
    cache = os.path.join(work, "cache-a")
    blob = os.path.join(cache, "a", "k.zip")
    strict = write_manifest(os.path.join(work, "a.json"), cache, nginx.url("").rstrip("/"), [("a", size, sha)])
    fast = write_manifest(os.path.join(work, "a-fast.json"), cache, nginx.url("").rstrip("/"), [("a", size, None)],
                          {"durability": "relaxed"})
    o = os.path.join(work, "out-a")
    host = os.path.join(BIN, "blobfetch")
    s = Scenario(args, f"A: {args.size_mib} MiB, unthrottled", size)
    s.tool("blobfetch", [host, "fetch", strict, "-q"], lambda: rm(cache), lambda: same(blob, src))
    s.tool("blobfetch relaxed, no hash", [host, "fetch", fast, "-q"], lambda: rm(cache), lambda: same(blob, src))
    if args.before:
        old = os.path.join(args.before, "blobfetch")
        s.tool(before_name(args), [old, "fetch", strict, "-q"], lambda: rm(cache), lambda: same(blob, src))
        s.tool(before_name(args, "relaxed, no hash"), [old, "fetch", fast, "-q"], lambda: rm(cache),
               lambda: same(blob, src))
    if args.skip_peers:
        out.append(s.run().table())
        rm(cache)
        return
    s.tool("curl to disk", ["curl", "-sS", "-o", o, url], lambda: rm(o), lambda: same(o, src))
    s.tool("curl + fsync", ["sh", "-c", f"curl -sS -o {o} {url} && sync {o}"], lambda: rm(o), lambda: same(o, src))
    s.tool("curl to /dev/null", ["curl", "-sS", "-o", "/dev/null", url])
    for x in (16, 4):
        s.tool(f"aria2c -x{x} -k2M", ["aria2c", "-q", f"-x{x}", f"-s{x}", "-k2M", "--allow-overwrite=true",
                                      "--auto-file-renaming=false", "-d", work, "-o", "out-a", url],
               lambda: rm(o), lambda: same(o, src))
    out.append(s.run().table())
    rm(cache)
    rm(o)


def scenario_b(args, work, nginx, out):
    size = 256 * MIB
    src = os.path.join(work, "www", "b", "k.zip")
    sha = gen_blob(src, 43, size)
    url = nginx.url("b/k.zip", capped=True)
    cache = os.path.join(work, "cache-b")
    blob = os.path.join(cache, "b", "k.zip")
    o = os.path.join(work, "out-b")
    host = os.path.join(BIN, "blobfetch")
    s = Scenario(args, "B: 256 MiB, limit_rate 25m", size)
    for c in (16, 4, 1):
        m = write_manifest(os.path.join(work, f"b{c}.json"), cache, nginx.url("", capped=True).rstrip("/"),
                           [("b", size, sha)], {"concurrency": c})
        name = "blobfetch" if c == 16 else f"blobfetch {c} conn"
        s.tool(name, [host, "fetch", m, "-q"], lambda: rm(cache), lambda: same(blob, src))
    for x in (16, 4):
        s.tool(f"aria2c -x{x}", ["aria2c", "-q", f"-x{x}", f"-s{x}", "-k1M", "--allow-overwrite=true",
                                 "--auto-file-renaming=false", "-d", work, "-o", "out-b", url],
               lambda: rm(o), lambda: same(o, src))
    s.tool("curl", ["curl", "-sS", "-o", o, url], lambda: rm(o), lambda: same(o, src))
    out.append(s.run().table())
    out.append("At 16 connections, 16 x 25 MiB/s = 400 MiB/s; at 4, 100 MiB/s. nginx applies `limit_rate` per "
               "request and lets each request's first second through at full speed.")
    rm(cache)
    rm(o)


def scenario_c(args, work, nginx, out):
    host = os.path.join(BIN, "blobfetch")
    for count, size in ((1000, 16 << 10), (200, MIB)):
        label = f"c{count}"
        arts = []
        for i in range(count):
            sha = gen_blob(os.path.join(work, "www", f"{label}-{i}", "k.zip"), 1000 + i, size)
            arts.append((f"{label}-{i}", size, sha))
        cache = os.path.join(work, f"cache-{label}")
        m = write_manifest(os.path.join(work, f"{label}.json"), cache, nginx.url("").rstrip("/"), arts)
        aria_in = os.path.join(work, f"{label}.aria")
        curl_cfg = os.path.join(work, f"{label}.curl")
        odir = os.path.join(work, f"out-{label}")
        with open(aria_in, "w") as fa, open(curl_cfg, "w") as fc:
            for name, _, _ in arts:
                fa.write(f"{nginx.url(name + '/k.zip')}\n  dir={odir}/{name}\n  out=k.zip\n")
                fc.write(f'url = "{nginx.url(name + "/k.zip")}"\noutput = "{odir}/{name}/k.zip"\ncreate-dirs\n')

        def check_cache(cache=cache, arts=arts):
            for name, _, _ in (arts[0], arts[-1]):
                same(os.path.join(cache, name, "k.zip"), os.path.join(work, "www", name, "k.zip"))

        def check_out(odir=odir, arts=arts):
            for name, _, _ in (arts[0], arts[len(arts) // 2], arts[-1]):
                same(os.path.join(odir, name, "k.zip"), os.path.join(work, "www", name, "k.zip"))

        s = Scenario(args, f"C: {count} x {size >> 10} KiB", count * size)
        s.tool("blobfetch", [host, "fetch", m, "-q"], lambda cache=cache: rm(cache), check_cache)
        if args.before:
            s.tool(before_name(args), [os.path.join(args.before, "blobfetch"), "fetch", m, "-q"],
                   lambda cache=cache: rm(cache), check_cache)
        if args.skip_peers:
            out.append(s.run().table())
            rm(cache)
            continue
        s.tool("aria2c -i -j16", ["aria2c", "-q", "-i", aria_in, "-j16", "--allow-overwrite=true",
                                  "--auto-file-renaming=false"], lambda odir=odir: rm(odir), check_out)
        s.tool("curl, URL after URL", ["curl", "-sS", "-K", curl_cfg], lambda odir=odir: rm(odir), check_out)
        out.append(s.run().table())
        rm(cache)
        rm(odir)


def scenario_d(args, work, nginx, out):
    # A server sending 1 MiB/s per connection (after each request's first
    # second at full speed): slow enough to stop every tool at a known point.
    size = 128 * MIB
    src = os.path.join(work, "www", "d", "k.zip")
    sha = gen_blob(src, 44, size)
    cache = os.path.join(work, "cache-d")
    sidecar = os.path.join(cache, "d", "k.zip.dlstate")
    m = write_manifest(os.path.join(work, "d.json"), cache, nginx.url("", slow=True).rstrip("/"), [("d", size, sha)])
    lines = ["| D: resume of 128 MiB (1 MiB/s per connection, 2 MiB chunks), stopped at about half way | stopped at | "
             "extra bytes sent | extra / 2 MiB chunk |", "|---|---|---|---|"]

    def recorded():
        # Bytes the sidecar claims (layout: src/state/download_state.h): complete chunks
        # (count at offset 104) and, in a version-2 record, the received prefixes of the
        # chunks in flight (partial_count at offset 12; 24-byte entries before the trailer).
        try:
            with open(sidecar, "rb") as f:
                rec = f.read()
            done = int.from_bytes(rec[104:112], "little") * 2 * MIB
            if int.from_bytes(rec[8:10], "little") == 2:
                n = int.from_bytes(rec[12:16], "little")
                at = len(rec) - 4 - 24 * n
                done += sum(int.from_bytes(rec[at + 24 * k + 8:at + 24 * k + 16], "little") for k in range(n))
            return done
        except (OSError, ValueError):
            return 0

    def extra():
        time.sleep(1.5)  # nginx logs a killed connection when it notices it
        sent, _ = nginx.body_bytes("/d/k.zip")
        return sent - size

    hosts = [("blobfetch", os.path.join(BIN, "blobfetch"))]
    if args.before:
        hosts.append((before_name(args), os.path.join(args.before, "blobfetch")))
    # The full run's time, for stopping at a moment no record is tied to.
    rm(cache)
    t0 = time.monotonic()
    subprocess.run([hosts[0][1], "fetch", m, "-q"], check=True)
    full = time.monotonic() - t0
    for label, host in hosts:
        for how in ("SIGKILL after a record", "SIGKILL at half time", "SIGINT"):
            rounds = args.rounds if how == "SIGKILL at half time" else 1
            extras, at = [], 0.0
            for _ in range(rounds):
                rm(cache)
                nginx.clear_log()
                p = subprocess.Popen([host, "fetch", m, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if how == "SIGKILL at half time":
                    time.sleep(full / 2)
                else:
                    while recorded() < size // 2 and p.poll() is None:
                        time.sleep(0.01)
                at = recorded()
                p.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGKILL)
                p.wait()
                subprocess.run([host, "fetch", m, "-q"], check=True)
                same(os.path.join(cache, "d", "k.zip"), src)
                extras.append(extra())
            e = sorted(extras)[len(extras) // 2]
            where = (f"{full / 2:.1f} s of {full:.1f} s" if how == "SIGKILL at half time" else f"{at / size:.0%} recorded")
            spread = f" (median of {rounds}: {min(extras)}-{max(extras)})" if rounds > 1 else ""
            lines.append(f"| {label} (8 connections), {how} | {where} | {e}{spread} | {e / (2 * MIB):.1f} |")
    # aria2c: stopped at half its own full-run time, then resumed (curl, one
    # connection at 1 MiB/s, would take minutes; it resumes from the file size
    # with -C - and checks nothing).
    url = nginx.url("d/k.zip", slow=True)
    o = os.path.join(work, "out-d")
    peers = [("aria2c -x16 -k2M, then -c",
              ["aria2c", "-q", "-x16", "-s16", "-k2M", "--allow-overwrite=true", "--auto-file-renaming=false",
               "-d", work, "-o", "out-d", url], ["-c"])]
    for name, argv, resume in peers:
        rm(o)
        rm(o + ".aria2")
        t0 = time.monotonic()
        subprocess.run(argv, check=True)
        full = time.monotonic() - t0
        rm(o)
        rm(o + ".aria2")
        nginx.clear_log()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full / 2)
        p.send_signal(signal.SIGKILL)
        p.wait()
        subprocess.run(argv[:1] + resume + argv[1:], check=True)
        same(o, src)
        e = extra()
        lines.append(f"| {name}, SIGKILL | {full / 2:.1f} s of {full:.1f} s | {e} | {e / (2 * MIB):.1f} |")
    out.append("\n".join(lines))
    rm(cache)
    rm(o)


def scenario_e(args, work, nginx, out):
    count, size = 10000, 32 << 10
    host = os.path.join(BIN, "blobfetch")
    cache = os.path.join(work, "cache-e")
    arts = []
    one = os.path.join(work, "e-one")
    sha = gen_blob(one, 7, size)
    for i in range(count):
        d = os.path.join(cache, f"e{i}")
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(one, os.path.join(d, "k.zip"))
        arts.append((f"e{i}", size, sha))
    nginx.clear_log()
    m_hash = write_manifest(os.path.join(work, "e.json"), cache, nginx.url("").rstrip("/"), arts)
    m_size = write_manifest(os.path.join(work, "e-size.json"), cache, nginx.url("").rstrip("/"), arts,
                            {"verify_cached_hash": False})
    s = Scenario(args, f"E: {count} x {size >> 10} KiB already cached", count * size)
    s.tool("blobfetch, size only", [host, "fetch", m_size, "-q"])
    s.tool("blobfetch, SHA-256", [host, "fetch", m_hash, "-q"])
    out.append(s.run().table(reference=""))
    if os.path.getsize(nginx.log) != 0:
        raise RuntimeError("scenario E sent requests although everything was cached")
    rm(cache)


def scenario_f(args, work, nginx, out):
    res = subprocess.run([os.path.join(BIN, "blobfetch-bench-cancel"), "20"], check=True, capture_output=True,
                         text=True).stdout
    out.append(res.strip())


# System calls that scenario G counts as file-system work, in the order of its
# table: (row label, the strace names summed into it). "file-system total" is
# the sum of exactly these rows. read/write/close also count calls on other
# descriptors (strace -c cannot tell them apart); the network rows below are
# reported separately.
FS_CALLS = [
    ("openat/open", ("openat", "open")),
    ("newfstatat/fstat/lstat/stat/statx", ("newfstatat", "fstat", "lstat", "stat", "statx")),
    ("unlink/unlinkat", ("unlink", "unlinkat")),
    ("ftruncate", ("ftruncate",)),
    ("fallocate", ("fallocate",)),
    ("fchmod", ("fchmod",)),
    ("flock", ("flock",)),
    ("fcntl", ("fcntl",)),
    ("fdatasync", ("fdatasync",)),
    ("fsync", ("fsync",)),
    ("rename/renameat/renameat2", ("rename", "renameat", "renameat2")),
    ("mkdir/mkdirat", ("mkdir", "mkdirat")),
    ("pwrite64/write", ("pwrite64", "write")),
    ("pread64/read", ("pread64", "read")),
    ("close", ("close",)),
]
NET_CALLS = [
    ("recvfrom/recvmsg", ("recvfrom", "recvmsg", "recvmmsg")),
    ("sendto/sendmsg", ("sendto", "sendmsg", "sendmmsg")),
    ("poll/ppoll/select", ("poll", "ppoll", "select", "pselect6")),
    ("epoll_*", ("epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "epoll_create", "epoll_create1")),
    ("socket/connect/sockopt/sockname", ("socket", "connect", "socketpair", "setsockopt", "getsockopt",
                                          "getsockname", "getpeername", "bind", "shutdown")),
    ("eventfd2/pipe2", ("eventfd2", "eventfd", "pipe", "pipe2")),
]


def parse_strace_summary(path):
    """strace -c's table -> {syscall: (calls, errors)}; the "total" row is left out."""
    calls = {}
    rules = 0
    with open(path) as f:
        for line in f:
            if line.startswith("------"):
                rules += 1
                continue
            if rules != 1:
                continue  # the heading, or the total row after the second rule
            tok = line.split()
            if len(tok) < 5:
                continue
            errors = int(tok[4]) if len(tok) >= 6 else 0
            calls[tok[-1]] = (int(tok[3]), errors)
    if not calls:
        raise RuntimeError(f"no strace summary in {path}")
    return calls


def file_system(path):
    """"ext4 on /dev/vda (without a journal)": the file system holding path, for scenario G's notes."""
    r = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", path], capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.split():
        return "unknown"
    fstype, source = (r.stdout.split() + ["?"])[:2]
    text = f"{fstype} on {source}"
    if fstype == "ext4":
        try:
            with open(f"/sys/fs/ext4/{os.path.basename(source)}/journal_task") as f:
                if f.read().strip() == "<none>":
                    text += " (without a journal)"
        except OSError:
            pass
    return text


def gen_blobs(jobs):
    """gen_blob for many (path, seed, size) at once, on every core; returns the SHA-256s in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(lambda j: gen_blob(*j), jobs))


def scenario_g(args, work, nginx, out):
    count, size = args.g_blobs, 4 << 10
    host = os.path.join(BIN, "blobfetch")
    names = [f"g-{i}" for i in range(count)]
    shas = gen_blobs([(os.path.join(work, "www", n, "k.zip"), 20000 + i, size) for i, n in enumerate(names)])
    cache = os.path.join(work, "cache-g")
    base = nginx.url("").rstrip("/")
    strict = write_manifest(os.path.join(work, "g.json"), cache, base, [(n, size, h) for n, h in zip(names, shas)])
    relaxed = write_manifest(os.path.join(work, "g-relaxed.json"), cache, base, [(n, size, None) for n in names],
                             {"durability": "relaxed"})
    aria_in = os.path.join(work, "g.aria")
    curl_cfg = os.path.join(work, "g.curl")
    odir = os.path.join(work, "out-g")
    with open(aria_in, "w") as fa, open(curl_cfg, "w") as fc:
        for n in names:
            fa.write(f"{nginx.url(n + '/k.zip')}\n  dir={odir}/{n}\n  out=k.zip\n")
            fc.write(f'url = "{nginx.url(n + "/k.zip")}"\noutput = "{odir}/{n}/k.zip"\ncreate-dirs\n')
    picks = (names[0], names[count // 2], names[-1])
    left_by = {}  # tool -> {entry name or "directory": count} after its last run

    def entries(where):
        found = {}
        for _, dirs, files in os.walk(where):
            found["directory"] = found.get("directory", 0) + len(dirs)
            for x in files:
                found[x] = found.get(x, 0) + 1
        return found

    def check_in(where, tool=None):
        def check():
            if tool:
                left_by[tool] = entries(where)
            for n in picks:
                same(os.path.join(where, n, "k.zip"), os.path.join(work, "www", n, "k.zip"))
            missing = [n for n in names if os.path.getsize(os.path.join(where, n, "k.zip")) != size]
            if missing:
                raise RuntimeError(f"{len(missing)} blobs missing or short in {where}, e.g. {missing[0]}")
        return check

    argv = {
        "blobfetch": [host, "fetch", strict, "-q"],
        "blobfetch relaxed, no hash": [host, "fetch", relaxed, "-q"],
    }
    if args.before:
        old = os.path.join(args.before, "blobfetch")
        argv[before_name(args)] = [old, "fetch", strict, "-q"]
        argv[before_name(args, "relaxed, no hash")] = [old, "fetch", relaxed, "-q"]
    if not args.skip_peers:
        argv["aria2c -i -j16"] = ["aria2c", "-q", "-i", aria_in, "-j16", "--allow-overwrite=true",
                                  "--auto-file-renaming=false"]
        argv["curl, URL after URL"] = ["curl", "-sS", "-K", curl_cfg]
    s = Scenario(args, f"G: {count} x {size >> 10} KiB, fresh cache", count * size)
    for name, cmd in argv.items():
        where = cache if name.startswith("blobfetch") else odir
        s.tool(name, cmd, lambda where=where: rm(where), check_in(where, name))
    out_g = [s.run().table()]
    rm(odir)

    def per_blob_entries(found):
        return ", ".join(f"{n / count:.2f} {'directories' if k == 'directory' else '`' + k + '`'}"
                         for k, n in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))

    out_g.append(
        "What each tool leaves behind, per blob (each entry a new inode): " +
        "; ".join(f"{name}: {per_blob_entries(found)}" for name, found in left_by.items()) +
        f". The outputs are on {file_system(work)}. Every timed run creates these right after its preparation "
        "deleted as many: a file system that delays the reuse of freed inodes (ext4 without a journal skips "
        "inodes freed in the last 60 s, 360 s while their inode-table block is dirty, and scans past each of "
        "them) makes mkdir and openat(O_CREAT) the largest part of every tool's wall time, and a noisy one; the "
        "system-call counts below do not depend on it.")

    def shown(cmd):
        return " ".join(cmd).replace(work, "$WORK").replace(ROOT + "/", "")

    manifest_note = (
        f"`$WORK` is the harness's temporary directory. `$WORK/g.json`: `{{\"version\": 1, \"cache_dir\": "
        f"\"$WORK/cache-g\", \"sources\": [{{\"url\": \"http://127.0.0.1:PORT/{{name}}/{{sha}}.zip\"}}], "
        f"\"artifacts\": [{{\"name\": \"g-0\", \"sha\": \"k\", \"size\": {size}, \"sha256\": \"...\"}}, ... "
        f"\"g-{count - 1}\"]}}` (cache files `$WORK/cache-g/g-N/k.zip`, one directory per blob, as in C; "
        f"content from `blobfetch-testgen {20000}+N {size}`); `$WORK/g-relaxed.json` is the same without "
        f"`sha256` and with `\"options\": {{\"durability\": \"relaxed\"}}`. `g.aria` and `g.curl` list the same "
        f"URLs, written as in scenario C.")
    out_g.append("Commands (each timed run after deleting its output directory, `sync` and the settle wait):\n\n" +
                 "\n".join(f"- {name}: `{shown(cmd)}`" for name, cmd in argv.items()) + "\n\n" + manifest_note)

    strace = shutil.which("strace") or ("/usr/bin/strace" if os.access("/usr/bin/strace", os.X_OK) else None)
    if args.no_strace or not strace:
        why = "--no-strace was given" if args.no_strace else "strace was not found"
        out_g.append(f"System calls per blob: skipped ({why}).")
        out.append("\n\n".join(out_g))
        rm(cache)
        return

    runs = []  # (column label, command shown, {syscall: (calls, errors)})
    for label, m in (("strict + SHA-256", strict), ("relaxed, no hash", relaxed)):
        for cached in (False, True):
            if not cached:
                rm(cache)
            subprocess.run(["sync"], check=True)
            time.sleep(args.settle)
            trace = os.path.join(work, f"g-strace-{len(runs)}.txt")
            cmd = [strace, "-f", "-c", "-o", trace, host, "fetch", m, "-q"]
            nginx.clear_log()
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if p.returncode != 0:
                raise RuntimeError(f"strace run exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
            check_in(cache)()
            time.sleep(0.5)  # nginx writes its log lines as it answers
            _, requests = nginx.body_bytes("/g-")
            if cached and requests:
                raise RuntimeError(f"the rerun over the full cache sent {requests} requests")
            if not cached and requests != count:
                raise RuntimeError(f"the fresh fetch sent {requests} requests for {count} blobs")
            col = f"{label}, {'rerun, all cached' if cached else 'fresh cache'}"
            runs.append((col, shown(cmd).replace(trace.replace(work, "$WORK"), "$WORK/g-strace.txt"),
                         parse_strace_summary(trace)))
    rm(cache)

    def per_blob(n):
        return "0" if n == 0 else "<0.01" if n / count < 0.005 else f"{n / count:.2f}"

    def cell(counts, names_):
        c = sum(counts.get(n, (0, 0))[0] for n in names_)
        e = sum(counts.get(n, (0, 0))[1] for n in names_)
        return per_blob(c) + (f" ({per_blob(e)} failed)" if e else "")

    listed = {n for _, ns in FS_CALLS + NET_CALLS for n in ns}
    fs_names = tuple(n for _, ns in FS_CALLS for n in ns)
    net_names = tuple(n for _, ns in NET_CALLS for n in ns)
    # The largest of the rest, by calls in any run.
    others = sorted({n for _, _, c in runs for n in c if n not in listed},
                    key=lambda n: -max(c.get(n, (0, 0))[0] for _, _, c in runs))
    head = f"| G: system calls per blob (count / {count:,}) | " + " | ".join(col for col, _, _ in runs) + " |"
    rows = [head, "|---|" + "---|" * len(runs)]

    def row(label, names_, bold=False):
        cells = [cell(c, names_) for _, _, c in runs]
        if bold:
            label, cells = f"**{label}**", [f"**{x}**" for x in cells]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    row("all system calls", tuple({n for _, _, c in runs for n in c}), bold=True)
    for label, ns in FS_CALLS:
        row(label, ns)
    row("file-system total (the rows above)", fs_names, bold=True)
    for label, ns in NET_CALLS:
        row(label, ns)
    row("network/poll total (the rows above)", net_names, bold=True)
    for n in others[:8]:
        row(n, (n,))
    rest = tuple(others[8:])
    if rest:
        row("everything else (" + ", ".join(rest) + ")", rest)
    out_g.append("\n".join(rows))
    out_g.append(
        f"From `strace -f -c` (every thread) of one run each, divided by the {count:,} blobs; the counts include the "
        "process's own start-up and exit (loading the plugin, a few hundred calls in all, under 0.1 per blob). "
        "\"(x failed)\": calls that returned an error, per blob (for example an unlink of a file that is not "
        "there). The file-system total is the sum of exactly the rows above it: openat/open, "
        "newfstatat/fstat/lstat/stat/statx, unlink/unlinkat, ftruncate, fallocate, fchmod, flock, fcntl, "
        "fdatasync, fsync, rename/renameat/renameat2, mkdir/mkdirat, pwrite64/write, pread64/read and close; "
        "read, write and close are counted there whatever the descriptor (strace -c does not tell a file from a "
        "socket or pipe), while recv*/send*/poll/epoll and socket set-up are counted as network/poll. "
        "A fresh cache is deleted, `sync` runs and the harness waits the settle time before the run; the rerun "
        "follows the fresh run over the cache it filled (no request reaches nginx). Commands:\n\n" +
        "\n".join(f"- {col}: `{cmd}`" for col, cmd, _ in runs))
    out.append("\n\n".join(out_g))


SCENARIOS = "ABCDEFG"
MARKER = re.compile(r"^<!-- harness section (\{.*\}) -->$")


def read_sections(path):
    """The sections of an earlier RESULTS.md: {scenario: (provenance, text)}.

    A file this harness wrote starts each section with a MARKER comment. An
    older file without them is split at its blank lines: a block whose table
    starts "| X:" opens scenario X ("| case" is F's), any other block belongs
    to the section before it; its provenance comes from its header."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        text = f.read()
    sections, current = {}, None
    if any(MARKER.match(line) for line in text.splitlines()):
        for line in text.splitlines():
            m = MARKER.match(line)
            if m:
                prov = json.loads(m.group(1))
                current = prov.pop("scenario")
                sections[current] = (prov, [])
            elif current:
                sections[current][1].append(line)
        return {k: (p, "\n".join(lines).strip()) for k, (p, lines) in sections.items()}
    written = re.search(r"^Written by `([^`]*)` on ([^\n]*?)\.$", text, re.M)
    machine = re.search(r"^Machine: (.*)\.$", text, re.M)
    prov = {"cmd": written.group(1) if written else "?", "when": written.group(2) if written else "?",
            "machine": machine.group(1) if machine else "?"}
    for block in text.split("\n\n"):
        block = block.strip()
        m = re.match(r"\| ([A-Z]):", block)
        if m:
            current = m.group(1)
        elif block.startswith("| case ("):
            current = "F"
        if current and block:
            sections.setdefault(current, (prov, []))[1].append(block)
    return {k: (p, "\n\n".join(blocks)) for k, (p, blocks) in sections.items()}


def render(sections):
    """RESULTS.md from {scenario: (provenance, text)}, in scenario order."""
    order = [k for k in SCENARIOS if k in sections] + sorted(k for k in sections if k not in SCENARIOS)
    groups = []  # (provenance, [scenarios]) in order of first appearance
    for k in order:
        prov = sections[k][0]
        for g in groups:
            if g[0] == prov:
                g[1].append(k)
                break
        else:
            groups.append((prov, [k]))

    def which(ks):
        return ("scenario " if len(ks) == 1 else "scenarios ") + ", ".join(ks)

    written = "; ".join(f"`{p['cmd']}` on {p['when']} ({which(ks)})" for p, ks in groups)
    machines = {p["machine"] for p, _ in groups}
    if len(machines) == 1:
        machine = [f"Machine: {machines.pop()}."]
    else:
        machine = [f"Machine for {which(ks)}: {p['machine']}." for p, ks in groups]
    head = [
        "# blobfetch benchmark results",
        "",
        f"Written by {written}.",
        *machine,
        "",
        "Medians of alternated rounds after a warm-up round; before each timed run the outputs are deleted,",
        "`sync` runs and the harness waits --settle seconds (3 unless the command above says otherwise). CPU is",
        "user+sys of the tool and its children; the last column is the median of",
        "the per-round ratios of blobfetch's wall time to this tool's (below 1: blobfetch is faster).",
        "blobfetch runs with its defaults (8 connections, 2 MiB chunks, strict durability, SHA-256) unless",
        "the row says otherwise. Every output is checked byte-exact after its timed run.",
        "",
    ]
    body = []
    for k in order:
        prov, text = sections[k]
        body.append(f"<!-- harness section {json.dumps(dict(scenario=k, **prov))} -->\n{text}")
    return "\n".join(head) + "\n" + "\n\n".join(body) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated, from " + ",".join(SCENARIOS) + " (default: all)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to wait before each timed run")
    ap.add_argument("--size-mib", type=int, default=1024, help="scenario A's blob size")
    ap.add_argument("--g-blobs", type=int, default=10000, help="scenario G's blob count")
    ap.add_argument("--no-strace", action="store_true",
                    help="scenario G: skip the system-call counts (skipped anyway, with a note, without strace)")
    ap.add_argument("--work-dir", default="/tmp",
                    help="where the temporary directory (blobs, caches, outputs) is made (default /tmp)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"),
                    help="results file; the sections of the scenarios run replace theirs, the others stay")
    ap.add_argument("--also-out", help="also write this run's sections alone (with the header) to this file")
    ap.add_argument("--before", "--d-before", dest="before",
                    help="scenarios A, C, D and G: also run the blobfetch found in this bin/ directory (an older "
                         "build), alternated round by round with this tree's")
    ap.add_argument("--before-label", "--d-before-label", dest="before_label", default="older build",
                    help="how to name --before's rows")
    ap.add_argument("--skip-peers", action="store_true",
                    help="scenarios A, C and G: run only blobfetch (and --before), not curl and aria2c")
    args = ap.parse_args()
    chosen = [x.strip().upper() for x in args.scenarios.split(",") if x.strip()]
    bad = [x for x in chosen if x not in SCENARIOS]
    if bad or not chosen:
        ap.error(f"--scenarios: unknown {','.join(bad) or '(none)'}; choose from {','.join(SCENARIOS)}")
    for tool in ("blobfetch", "blobfetch-testgen"):
        if not os.access(os.path.join(BIN, tool), os.X_OK):
            sys.exit("build first: cmake -S . -B build -G Ninja && cmake --build build -j2")
    for tool in ("curl", "aria2c"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool} (apt-get install curl aria2)")
    cmd = f"python3 bench/harness.py --scenarios {','.join(chosen)} --rounds {args.rounds}"
    if args.settle != 3.0:
        cmd += f" --settle {args.settle:g}"
    if "A" in chosen and args.size_mib != 1024:
        cmd += f" --size-mib {args.size_mib}"
    if "G" in chosen and args.g_blobs != 10000:
        cmd += f" --g-blobs {args.g_blobs}"
    if "G" in chosen and args.no_strace:
        cmd += " --no-strace"
    if args.work_dir != "/tmp":
        cmd += f" --work-dir {args.work_dir}"
    if args.before and set(chosen) & set("ACDG"):
        cmd += f" --before {args.before} --before-label '{args.before_label}'"
    if args.skip_peers:
        cmd += " --skip-peers"
    work = tempfile.mkdtemp(prefix="blobfetch-harness-", dir=args.work_dir)
    nginx = Nginx(work, os.path.join(work, "www"))
    out, parts = [], {}
    try:
        fns = {"A": scenario_a, "B": scenario_b, "C": scenario_c, "D": scenario_d, "E": scenario_e, "F": scenario_f,
               "G": scenario_g}
        for sc in chosen:
            print(f"scenario {sc}", flush=True)
            first = len(out)
            fns[sc](args, work, nginx, out)
            parts[sc] = "\n\n".join(out[first:])
    finally:
        nginx.stop()
        shutil.rmtree(work, ignore_errors=True)
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    machine = (f"{os.cpu_count()} cores ({cpu}), kernel {platform.release()}, "
               f"{subprocess.run(['curl', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}, "
               f"{subprocess.run(['aria2c', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}, "
               f"{subprocess.run(['/usr/sbin/nginx', '-v'], capture_output=True, text=True).stderr.strip()}")
    prov = {"cmd": cmd, "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine}
    mine = {sc: (prov, text) for sc, text in parts.items()}
    sections = read_sections(args.out)
    sections.update(mine)
    with open(args.out, "w") as f:
        f.write(render(sections))
    if args.also_out:
        with open(args.also_out, "w") as f:
            f.write(render(mine))
    print(render(mine))


if __name__ == "__main__":
    main()
