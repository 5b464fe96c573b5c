#!/usr/bin/env python3
"""End to end under Wine: the cross-built blobfetch.exe and blobfetch_plugin.dll
against a real nginx on 127.0.0.1 (run by .ci/windows.sh).

    python3 tests/windows/end_to_end.py BUILD_WIN_BIN_DIR WORK_DIR

Checks, printing the figures:
  1. fetch of a manifest with 0 B, 1 MiB and 64 MiB blobs: byte-exact (SHA-256);
  2. a second run sends no request (nginx's access log);
  3. a fetch killed (SIGKILL of the Wine process running blobfetch.exe) past
     30 %, just after a save of its sidecar,
     resumes from its sidecar: body bytes sent for the blob over both runs
     <= blob + one chunk per connection, and the resumed run's alone <= blob
     - recorded + one chunk per connection (the Linux suite's bound);
  4. two blobfetch.exe processes on one manifest: each blob's bytes are sent
     once in total;
  5. a cache path with non-ASCII characters, and one longer than 260
     characters, work (and the cache commands on them: 8);
  6. so do a non-ASCII manifest path, cache_dir and cache_path (no --cache);
  7. names Windows treats its own way: two cache paths that differ only in
     case fail the later blob (the earlier one is fetched, byte-exact; verify
     says why the later is not there); a blob named like blobfetch's own
     files in another case (`X.BIN.DLSTATE`), a device name (`sub/NUL.txt`),
     a trailing dot or space (`trail.`, `d /x`) are refused up front,
     nothing written to the cache;
  8. status, verify and gc --all on the caches of 5 (with a killed
     download's .part and .dlstate put in them): the download listed once,
     the blobs verified, the leftovers removed;
  9. x-script into a non-ASCII directory; once {dst} is gone, gc --all
     reclaims the staged asset.

Synchronisation is by polling conditions with deadlines, never by sleeping a
fixed time: nginx is ready when its port accepts; a run's requests are all in
the access log once nginx has no connection left but the status probe's
(stub_status); the kill comes once the progress output passed half way and
the sidecar was saved since.
"""
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

MiB = 1 << 20
CHUNK = 2 * MiB          # the default chunk_size
CONNECTIONS = 4          # "concurrency" in the manifests below
SLOW_RATE = "1m"         # nginx limit_rate per connection under /slow/ (the first second's worth goes at once)

BLOBS = [  # name, size, seed
    ("empty", 0, 1),
    ("one-mib", MiB, 2),
    ("big", 64 * MiB, 3),
]

failures = []
started = time.monotonic()


def say(text):
    print(f"windows-e2e: [{time.monotonic() - started:5.1f}s] {text}", flush=True)


def check(cond, text):
    say(("ok    " if cond else "FAIL  ") + text)
    if not cond:
        failures.append(text)


def eventually(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(4 * MiB), b""):
            h.update(piece)
    return h.hexdigest()


def wine_path(path):
    """A Unix path as Wine shows it (drive Z: is the Unix root)."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


class Nginx:
    def __init__(self, work, root):
        self.dir = os.path.join(work, "nginx")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.log = os.path.join(self.dir, "logs", "access.log")
        for attempt in range(5):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
            user = "user root;\n" if os.geteuid() == 0 else ""
            conf = f"""daemon off;
{user}worker_processes 1;
error_log {self.dir}/logs/error.log warn;
pid {self.dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  log_format bf '$request_method\\t$uri\\t$status\\t$body_bytes_sent\\t$http_range\\t$connection';
  access_log {self.log} bf;
  client_body_temp_path {self.dir}/tmp/body;
  proxy_temp_path {self.dir}/tmp/proxy;
  fastcgi_temp_path {self.dir}/tmp/fastcgi;
  uwsgi_temp_path {self.dir}/tmp/uwsgi;
  scgi_temp_path {self.dir}/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{self.port};
    root {root};
    location / {{ }}
    location /slow/ {{ alias {root}/; limit_rate {SLOW_RATE}; }}
    location = /nginx-status {{ stub_status; access_log off; }}
  }}
}}
"""
            with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
                f.write(conf)
            self.proc = subprocess.Popen(["/usr/sbin/nginx", "-p", self.dir, "-c", self.dir + "/nginx.conf"],
                                         stdout=subprocess.DEVNULL, stderr=open(self.dir + "/logs/stderr.log", "w"))
            try:
                eventually(lambda: self.accepts() or self.proc.poll() is not None, 20, "nginx to accept")
            except TimeoutError:
                pass
            if self.proc.poll() is None and self.accepts():
                return
            self.stop()
        raise RuntimeError("nginx did not start: " + open(self.dir + "/logs/stderr.log").read())

    def accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def active_connections(self):
        with urllib.request.urlopen(self.url + "/nginx-status", timeout=5) as r:
            first = r.read().decode().splitlines()[0]  # "Active connections: N"
        return int(first.split(":")[1])

    def settle(self):
        """Waits until nginx has no client connection left but the probe's own:
        every request made so far has then been logged."""
        eventually(lambda: self.active_connections() == 1, 60, "nginx's connections to close")

    def peek_log(self):
        """The access log's entries so far (requests nginx has completed)."""
        entries = []
        with open(self.log) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 6:
                    continue  # a line being written
                method, uri, status, body, rng, conn = fields
                entries.append({"method": method, "uri": uri, "status": int(status), "body": int(body),
                                "range": rng, "connection": int(conn)})
        return entries

    def take_log(self):
        """The access log's entries since the last call (and empties it)."""
        self.settle()
        entries = self.peek_log()
        open(self.log, "w").close()  # nginx appends (O_APPEND): truncating is safe
        return entries


def abi(seed):
    """The ABI key of the blob with `seed`: 64 lower-case hex digits, as vcpkg's are."""
    return hashlib.sha256(f"key{seed}".encode()).hexdigest()


def write_manifest(path, base_url, blobs, prefix=""):
    doc = {
        "version": 1,
        "cache_dir": "unused-cache",  # every run passes --cache
        "cache_path": "{name}/{sha}.bin",
        "sources": [{"name": "nginx", "url": base_url + prefix + "/{name}/{sha}.bin"}],
        "options": {"concurrency": CONNECTIONS},
        "artifacts": [{"name": n, "version": "1", "triplet": "x64-windows", "sha": f"{abi(seed)}",
                       "size": size, "sha256": digest} for n, size, seed, digest in blobs],
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)


class Host:
    """wine blobfetch.exe ... as a child process of ours."""

    def __init__(self, exe, args, env):
        self.lines = []
        self.proc = subprocess.Popen(["wine", exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True, encoding="utf-8", errors="replace")
        self.out = ""
        self.reader = threading.Thread(target=self._read_err, daemon=True)
        self.reader.start()

    def _read_err(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def percent(self):
        best = 0
        for line in list(self.lines):
            if line.startswith("blobfetch: ") and "%" in line:
                head = line[len("blobfetch: "):].split("%")[0]
                if head.isdigit():
                    best = max(best, int(head))
        return best

    def windows_process(self):
        """The pid of the Linux process that runs blobfetch.exe: the wine
        launcher execs into the Wine loader (same pid), which may also start
        it as a new process; it is ours either way: this child, or a process
        whose command line names blobfetch.exe and whose parent chain leads
        to this child."""
        def cmdline(pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    return f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                return ""

        def ancestors(pid):
            seen = []
            while pid > 1 and len(seen) < 64:
                seen.append(pid)
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        pid = int(f.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    break
            return seen

        if "blobfetch.exe" in cmdline(self.proc.pid):
            return self.proc.pid
        for entry in os.listdir("/proc"):
            if entry.isdigit() and "blobfetch.exe" in cmdline(int(entry)) and self.proc.pid in ancestors(int(entry)):
                return int(entry)
        return None

    def wait(self, timeout=600):
        out = self.proc.stdout.read()
        self.proc.wait(timeout)
        self.reader.join(10)
        self.out = out
        return self.proc.returncode

    def error_text(self):
        return "\n".join(self.lines[-20:]) + self.out


def main():
    bin_dir, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    exe = os.path.join(bin_dir, "blobfetch.exe")
    os.makedirs(work, exist_ok=True)
    www = os.path.join(work, "www")
    blobs = []
    for name, size, seed in BLOBS:
        path = os.path.join(www, name, f"{abi(seed)}.bin")
        if not (os.path.exists(path) and os.path.getsize(path) == size):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(random.Random(seed).randbytes(size))
        blobs.append((name, size, seed, sha256_file(path)))
    env = dict(os.environ, WINEDEBUG="-all")
    nginx = Nginx(work, www)
    try:
        run_checks(exe, work, nginx, blobs, env)
    finally:
        nginx.stop()
    say(f"{'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'} "
        f"in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


def fresh_dir(path):
    subprocess.run(["rm", "-rf", path], check=True)
    return path


def fetch(exe, manifest, cache, env, extra=()):
    t = time.monotonic()
    host = Host(exe, ["fetch", wine_path(manifest), "--cache", wine_path(cache), "--no-progress"] + list(extra), env)
    rc = host.wait()
    return rc, time.monotonic() - t, host


def cached_ok(cache, blobs):
    return all(os.path.isfile(os.path.join(cache, n, f"{abi(seed)}.bin")) and
               sha256_file(os.path.join(cache, n, f"{abi(seed)}.bin")) == digest for n, _, seed, digest in blobs)


def recorded_bytes(sidecar):
    """Bytes the .dlstate sidecar records (src/state/download_state.h, little-endian):
    complete chunks (blob_size at 16, chunk_size at 24, their count at 104) and, in a
    version-2 record, the received prefixes of chunks in flight (partial_count at 12,
    24-byte entries before the 4-byte trailer, each length at +8); 0 when there is none
    (yet) or it is not a record."""
    try:
        with open(sidecar, "rb") as f:
            rec = f.read()
    except OSError:
        return 0
    version = int.from_bytes(rec[8:10], "little") if len(rec) >= 132 else 0
    if rec[:8] != b"BFDLSTAT" or version not in (1, 2):
        return 0
    blob_size, chunk_size = int.from_bytes(rec[16:24], "little"), int.from_bytes(rec[24:32], "little")
    done = min(int.from_bytes(rec[104:112], "little") * chunk_size, blob_size)  # (exact for whole chunks, as here)
    if version == 2:
        n = int.from_bytes(rec[12:16], "little")
        at = len(rec) - 4 - 24 * n
        done += sum(int.from_bytes(rec[at + 24 * k + 8:at + 24 * k + 16], "little") for k in range(n))
    return done


def bytes_for(entries, name):
    return sum(e["body"] for e in entries if f"/{name}/" in e["uri"])


def run(exe, env, args):
    """wine blobfetch.exe ARGS: (exit status, stdout + stderr)."""
    r = subprocess.run(["wine", exe] + args, capture_output=True, text=True, encoding="utf-8", errors="replace",
                       env=env, timeout=300)
    return r.returncode, r.stdout + r.stderr


def cache_commands(exe, env, label, cache, manifest, leftover, big):
    """status, verify and gc --all on `cache` (non-ASCII or long), with the
    killed download's .part and .dlstate put in it first."""
    name, _, seed, _ = big
    os.makedirs(os.path.join(cache, name), exist_ok=True)
    planted = [os.path.join(cache, name, f) for f in sorted(os.listdir(leftover))] if os.path.isdir(leftover) else []
    for p in planted:
        shutil.copyfile(os.path.join(leftover, os.path.basename(p)), p)
    check(len(planted) == 2, f"{label} cache: the killed download's {[os.path.basename(p) for p in planted]} put in it")
    rc, out = run(exe, env, ["status", wine_path(cache)])
    mentions = [line for line in out.splitlines() if f"{abi(seed)}.bin" in line]
    check(rc == 0 and len(mentions) == 1 and "resumable" in out,
          f"{label} cache: status lists the download once, resumable: exit {rc}: {' / '.join(out.strip().splitlines()[:2])}")
    rc, out = run(exe, env, ["verify", wine_path(manifest), "--cache", wine_path(cache)])
    check(rc == 0 and "missing" not in out, f"{label} cache: verify: exit {rc}: {out.strip().splitlines()[-1]}")
    rc, out = run(exe, env, ["gc", "--all", wine_path(cache)])
    left = [p for p in planted if os.path.exists(p)]
    removed = [line for line in out.splitlines() if line.startswith("removed ")]
    check(rc == 0 and not left and len([r for r in removed if f"{abi(seed)}.bin." in r]) == 2 and "left alone" not in out
          and not any(f"{name}\\.download.lock" in r for r in removed),  # (made by this gc: not a leftover)
          f"{label} cache: gc --all removed the .part and .dlstate: exit {rc}: {out.strip().splitlines()[-1]}")
    rc, out = run(exe, env, ["status", wine_path(cache)])
    check(rc == 0 and "no unfinished downloads" in out, f"{label} cache: status after gc: exit {rc}: {out.strip()[:80]}")
    check(cached_ok(cache, [b for b in load_small(manifest)]), f"{label} cache: the published blobs are still there")


def load_small(manifest):
    with open(manifest) as f:
        doc = json.load(f)
    seeds = {abi(seed): seed for seed in range(100000)}  # (the key is a hash of the seed)
    return [(a["name"], a["size"], seeds[a["sha"]], a["sha256"]) for a in doc["artifacts"]]


def run_checks(exe, work, nginx, blobs, env):
    www = os.path.join(work, "www")
    manifest = os.path.join(work, "manifest.json")
    write_manifest(manifest, nginx.url, blobs)
    nginx.take_log()

    # 1. byte-exact
    cache = fresh_dir(os.path.join(work, "cache"))
    rc, secs, host = fetch(exe, manifest, cache, env)
    check(rc == 0, f"fetch of 0 B, 1 MiB, 64 MiB: exit {rc} in {secs:.1f}s" + ("" if rc == 0 else ": " + host.error_text()))
    check(cached_ok(cache, blobs), "every blob byte-exact (SHA-256 of the cached files)")
    log = nginx.take_log()
    sent = {n: bytes_for(log, n) for n, *_ in blobs}
    say(f"      bytes sent: {sent} (sizes {[s for _, s, *_ in blobs]}), {len(log)} requests")
    check(all(sent[n] == size for n, size, *_ in blobs), "each blob's bytes sent exactly once")

    # 2. nothing requested the second time
    rc, secs, host = fetch(exe, manifest, cache, env)
    log = nginx.take_log()
    check(rc == 0 and not log, f"second run: exit {rc} in {secs:.1f}s, {len(log)} requests (0 expected)")

    # 3. killed half way, resumed from the sidecar
    big = [b for b in blobs if b[0] == "big"]
    name, size, seed, _ = big[0]
    slow = os.path.join(work, "manifest-slow.json")
    write_manifest(slow, nginx.url, big, prefix="/slow")
    cache = fresh_dir(os.path.join(work, "cache-kill"))
    sidecar = os.path.join(cache, name, f"{abi(seed)}.bin.dlstate")
    leftover = os.path.join(work, "killed-leftover")
    t = time.monotonic()
    host = Host(exe, ["fetch", wine_path(slow), "--cache", wine_path(cache)], env)
    eventually(lambda: host.percent() >= 30 or host.proc.poll() is not None, 120, "the fetch to pass 30 %")

    # The kill comes just after a save of the sidecar (it grew): the record
    # keeps complete chunks and the received prefix of each chunk in flight
    # (format v2), so what is lost is what landed since that save and what
    # was received but not yet written, far below one chunk per connection.
    # (The resumed run's own bound below holds at any moment.)
    seen = recorded_bytes(sidecar)
    eventually(lambda: recorded_bytes(sidecar) != seen or host.proc.poll() is not None, 60,
               "the next save of the sidecar")
    recorded = recorded_bytes(sidecar)
    pid = host.windows_process()
    percent = host.percent()
    if pid is None or host.proc.poll() is not None:
        check(False, f"kill half way: no running blobfetch.exe process found (exit {host.proc.poll()})")
        nginx.take_log()
    else:
        os.kill(pid, signal.SIGKILL)
        rc = host.wait()
        say(f"      killed blobfetch.exe (pid {pid}, {'the wine child itself' if pid == host.proc.pid else 'below it'}) "
            f"at {percent} % after {time.monotonic() - t:.1f}s, the sidecar recording {recorded} bytes; wine exit {rc}")
        check(os.path.exists(sidecar), "the sidecar survived the kill")
        # (The kill's leftovers, for the cache commands on the caches of 5.)
        fresh_dir(leftover)
        os.makedirs(leftover)
        for suffix in (".dlstate", ".part"):
            if os.path.exists(sidecar[:-len(".dlstate")] + suffix):
                shutil.copyfile(sidecar[:-len(".dlstate")] + suffix, os.path.join(leftover, f"{abi(seed)}.bin{suffix}"))
        first = bytes_for(nginx.take_log(), name)
        rc, secs, host = fetch(exe, slow, cache, env)
        second = bytes_for(nginx.take_log(), name)
        check(rc == 0 and cached_ok(cache, big), f"resumed run: exit {rc} in {secs:.1f}s, byte-exact")
        resume_bound = size - recorded + CONNECTIONS * CHUNK
        check(second <= resume_bound, f"the resumed run sent {second} <= blob - recorded + {CONNECTIONS} x "
              f"{CHUNK >> 20} MiB = {resume_bound}")
        bound = size + CONNECTIONS * CHUNK
        check(first + second <= bound, f"bytes sent in total: {first} before the kill + {second} resuming = "
              f"{first + second} <= blob + {CONNECTIONS} x {CHUNK >> 20} MiB = {bound}")

    # 4. two processes on one manifest (the big blob slowed down, so they overlap)
    two = os.path.join(work, "manifest-two.json")
    write_manifest(two, nginx.url, blobs, prefix="/slow")
    cache = fresh_dir(os.path.join(work, "cache-two"))
    t = time.monotonic()
    hosts = [Host(exe, ["fetch", wine_path(two), "--cache", wine_path(cache), "--no-progress", "-v"], env)
             for _ in range(2)]
    rcs = [h.wait() for h in hosts]
    waited = sum(1 for h in hosts for line in h.lines if "waiting for" in line)
    say(f"      {waited} 'waiting for <blob>, held by PID ...' lines: the processes overlapped")
    log = nginx.take_log()
    sent = {n: bytes_for(log, n) for n, *_ in blobs}
    check(rcs == [0, 0] and cached_ok(cache, blobs),
          f"two processes on one manifest: exits {rcs} in {time.monotonic() - t:.1f}s, byte-exact")
    say(f"      bytes sent: {sent}")
    check(all(sent[n] == s for n, s, *_ in blobs), "each blob's bytes sent once in total")

    # 5. non-ASCII and long cache paths
    small = [b for b in blobs if b[0] != "big"]
    small_manifest = os.path.join(work, "manifest-small.json")
    write_manifest(small_manifest, nginx.url, small)
    for label, cache in [("non-ASCII", os.path.join(work, "café-データ", "cache")),
                         ("long", os.path.join(work, "long", *(["d" * 50] * 6), "cache"))]:
        fresh_dir(os.path.dirname(cache) if label == "non-ASCII" else os.path.join(work, "long"))
        rc, secs, host = fetch(exe, small_manifest, cache, env)
        longest = max(len(wine_path(os.path.join(cache, n, f"{abi(seed)}.bin"))) for n, _, seed, _ in small)
        check(rc == 0 and cached_ok(cache, small),
              f"{label} cache path ({wine_path(cache)[:60]}..., longest file path {longest} characters): exit {rc} "
              f"in {secs:.1f}s, byte-exact" + ("" if rc == 0 else ": " + host.error_text()))
        if label == "long":
            check(longest > 260, f"the long path is longer than MAX_PATH ({longest} > 260)")
        nginx.take_log()
        cache_commands(exe, env, label, cache, small_manifest, leftover, big[0])

    # 6. non-ASCII everywhere else: the manifest's own path, its cache_dir
    # (relative to it) and the blobs' paths in the cache (cache_path), no --cache
    where = fresh_dir(os.path.join(work, "マニフェスト-é"))
    os.makedirs(where)
    named = os.path.join(where, "m.json")
    write_manifest(named, nginx.url, small)
    with open(named) as f:
        doc = json.load(f)
    doc["cache_dir"] = "キャッシュ-é"
    doc["cache_path"] = "{name}/ü-{sha}.bin"
    with open(named, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    host = Host(exe, ["fetch", wine_path(named), "--no-progress"], env)
    rc = host.wait()
    files = [os.path.join(where, "キャッシュ-é", n, f"ü-{abi(seed)}.bin") for n, _, seed, _ in small]
    ok = all(os.path.isfile(p) and sha256_file(p) == digest for p, (_, _, _, digest) in zip(files, small))
    check(rc == 0 and ok, f"non-ASCII manifest path, cache_dir and cache_path: exit {rc}, byte-exact at "
          f"{files[-1][len(work):]}" + ("" if rc == 0 else ": " + host.error_text()))
    nginx.take_log()

    # 7. names Windows treats its own way
    case_manifest = os.path.join(work, "manifest-case.json")
    write_manifest(case_manifest, nginx.url, small)
    with open(case_manifest) as f:
        doc = json.load(f)
    doc["artifacts"][0]["path"] = "d/A.BIN"  # (small[0] is the empty blob, small[1] the 1 MiB one)
    doc["artifacts"][1]["path"] = "d/a.bin"
    doc["artifacts"].reverse()  # the 1 MiB blob's `d/a.bin` comes first and is fetched
    with open(case_manifest, "w") as f:
        json.dump(doc, f)
    cache = fresh_dir(os.path.join(work, "cache-case"))
    rc, secs, host = fetch(exe, case_manifest, cache, env)
    text = host.error_text()
    got = os.path.join(cache, "d", "a.bin")
    check(rc == 1 and "'d/A.BIN' and the earlier 'd/a.bin' name the same file on Windows" in text and
          "nothing was written for 'd/A.BIN'" in text,
          f"cache paths d/a.bin and d/A.BIN: exit {rc}, the later one refused: " + text.strip().splitlines()[0][:160])
    check(os.listdir(os.path.join(cache, "d")) in (["a.bin", ".download.lock"], [".download.lock", "a.bin"]) and
          sha256_file(got) == small[1][3], f"d/a.bin fetched byte-exact, nothing else: {os.listdir(os.path.join(cache, 'd'))}")
    v = subprocess.run(["wine", exe, "verify", wine_path(case_manifest), "--cache", wine_path(cache)],
                       capture_output=True, text=True, encoding="utf-8", errors="replace", env=env)
    check(v.returncode == 1 and "same file as 'd/a.bin'" in v.stdout and "CORRUPT" not in v.stdout,
          f"verify: exit {v.returncode}, says why d/A.BIN is not there: {v.stdout.strip().splitlines()[0][:120]}")
    nginx.take_log()
    # (One of each kind: the unit tests have the rest; each run costs Wine's start.)
    for bad, why in [("d/X.BIN.DLSTATE", "ends with '.dlstate' (in some case)"), ("sub/NUL.txt", "Windows device name 'NUL'"),
                     ("trail.", "ends with '.'"), ("d /x", "component 'd ', which ends with a space")]:
        doc = json.load(open(case_manifest))
        doc["artifacts"] = doc["artifacts"][:1]
        doc["artifacts"][0]["path"] = bad
        named = os.path.join(work, "manifest-name.json")
        with open(named, "w") as f:
            json.dump(doc, f)
        cache = fresh_dir(os.path.join(work, "cache-name"))
        rc, secs, host = fetch(exe, named, cache, env)
        text = host.error_text()
        check(rc == 2 and f"destination path '{bad}'" in text and why in text and not os.path.exists(cache),
              f"blob path {bad!r} refused up front (exit {rc}, nothing written): {why}")
    check(not nginx.take_log(), "no request for any refused name")

    # 9. x-script into a non-ASCII directory: the asset is staged and copied
    # to {dst}; once {dst} is gone, gc --all reclaims the staged asset (its
    # link count is 1: GetFileInformationByHandle).
    name, size, seed, _ = small[1]
    with open(os.path.join(www, name, f"{abi(seed)}.bin"), "rb") as f:
        sha512 = hashlib.sha512(f.read()).hexdigest()
    where = fresh_dir(os.path.join(work, "x-script-é"))
    os.makedirs(where)
    dst = os.path.join(where, "asset.zip.1.part")
    rc, out = run(exe, env, ["x-script", f"{nginx.url}/{name}/{abi(seed)}.bin", sha512, wine_path(dst)])
    staged = os.path.join(where, ".blobfetch-staging", sha512)
    check(rc == 0 and os.path.isfile(dst) and os.path.isfile(staged),
          f"x-script into {os.path.basename(where)}: exit {rc}, placed and staged" + ("" if rc == 0 else ": " + out))
    nginx.take_log()
    os.remove(dst)
    rc, out = run(exe, env, ["gc", "--all", wine_path(where)])
    check(rc == 0 and not os.path.exists(staged) and "staged asset that nothing links to any more" in out,
          f"gc --all after {{dst}} went: exit {rc}, the staged asset reclaimed: {out.strip().splitlines()[-1]}")


if __name__ == "__main__":
    sys.exit(main())
