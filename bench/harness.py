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
"""
import argparse
import datetime
import filecmp
import json
import os
import platform
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
    m = {"version": 1, "cache_dir": cache,
         "sources": [{"url": base_url + "/{name}/{sha}.zip"}],
         "artifacts": []}
    if options:
        m["options"] = options
    for name, size, sha in artifacts:
        a = {"name": name, "sha": "k", "size": size}
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
    host = os.path.join(BIN, "blobfetch")
    cache = os.path.join(work, "cache-d")
    sidecar = os.path.join(cache, "d", "k.zip.dlstate")
    m = write_manifest(os.path.join(work, "d.json"), cache, nginx.url("", slow=True).rstrip("/"), [("d", size, sha)])
    lines = ["| D: resume of 128 MiB (1 MiB/s per connection), stopped at about half way | stopped at | "
             "extra bytes sent | extra / 2 MiB chunk |", "|---|---|---|---|"]

    def recorded():
        # Complete-chunk count from the sidecar header (layout: src/state/download_state.h).
        try:
            with open(sidecar, "rb") as f:
                head = f.read(112)
            return int.from_bytes(head[104:112], "little") * 2 * MIB
        except (OSError, ValueError):
            return 0

    def extra():
        time.sleep(1.5)  # nginx logs a killed connection when it notices it
        sent, _ = nginx.body_bytes("/d/k.zip")
        return sent - size

    for how in ("SIGKILL", "SIGINT"):
        rm(cache)
        nginx.clear_log()
        p = subprocess.Popen([host, "fetch", m, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while recorded() < size // 2 and p.poll() is None:
            time.sleep(0.01)
        at = recorded()
        p.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
        p.wait()
        subprocess.run([host, "fetch", m, "-q"], check=True)
        same(os.path.join(cache, "d", "k.zip"), src)
        e = extra()
        lines.append(f"| blobfetch (8 connections), {how} | {at / size:.0%} recorded | {e} | {e / (2 * MIB):.1f} |")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default="A,B,C,D,E,F")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to wait before each timed run")
    ap.add_argument("--size-mib", type=int, default=1024, help="scenario A's blob size")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    args = ap.parse_args()
    for tool in ("blobfetch", "blobfetch-testgen"):
        if not os.access(os.path.join(BIN, tool), os.X_OK):
            sys.exit("build first: cmake -S . -B build -G Ninja && cmake --build build -j2")
    for tool in ("curl", "aria2c"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool} (apt-get install curl aria2)")
    work = tempfile.mkdtemp(prefix="blobfetch-harness-", dir="/tmp")
    nginx = Nginx(work, os.path.join(work, "www"))
    out = []
    try:
        fns = {"A": scenario_a, "B": scenario_b, "C": scenario_c, "D": scenario_d, "E": scenario_e, "F": scenario_f}
        for sc in args.scenarios.split(","):
            print(f"scenario {sc}", flush=True)
            fns[sc](args, work, nginx, out)
    finally:
        nginx.stop()
        shutil.rmtree(work, ignore_errors=True)
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    head = [
        "# blobfetch benchmark results",
        "",
        f"Written by `python3 bench/harness.py --scenarios {args.scenarios} --rounds {args.rounds}` on "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        f"Machine: {os.cpu_count()} cores ({cpu}), kernel {platform.release()}, "
        f"{subprocess.run(['curl', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}, "
        f"{subprocess.run(['aria2c', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}, "
        f"{subprocess.run(['/usr/sbin/nginx', '-v'], capture_output=True, text=True).stderr.strip()}.",
        "",
        "Medians of alternated rounds after a warm-up round; before each timed run the outputs are deleted,",
        "`sync` runs and the harness waits "
        f"{args.settle:g} s. CPU is user+sys of the tool and its children; the last column is the median of",
        "the per-round ratios of blobfetch's wall time to this tool's (below 1: blobfetch is faster).",
        "blobfetch runs with its defaults (8 connections, 2 MiB chunks, strict durability, SHA-256) unless",
        "the row says otherwise. Every output is checked byte-exact after its timed run.",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(head) + "\n" + "\n\n".join(out) + "\n")
    print(open(args.out).read())


if __name__ == "__main__":
    main()
