#!/usr/bin/env bash
# Many small blobs from a local nginx on 127.0.0.1: blobfetch (the host
# loading the plugin, strict durability, SHA-256, 8 connections, a directory
# lock per blob) against aria2c -i -j16, then blobfetch again with everything
# cached (with SHA-256, and size-only). Prints a Markdown table of median
# (min-max) wall seconds over alternated rounds after a warm-up; every output
# is checked. The full harness is issue 5.
#   bash bench/many_small.sh [COUNT] [SIZE_KIB] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
size_kib=${2:-16}
rounds=${3:-3}
bin=build/bin
[ -x $bin/blobfetch ] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build -j2"; exit 2; }
command -v aria2c >/dev/null || { echo "needs aria2c (apt-get install aria2)"; exit 2; }

work=$(mktemp -d /tmp/blobfetch-bench-XXXXXX)
trap 'kill $nginx_pid 2>/dev/null || true; wait $nginx_pid 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/nginx/logs" "$work/nginx/tmp"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  printf '{"version":1,"cache_dir":"%s/cache","sources":[{"url":"http://127.0.0.1:%s/{name}/{sha}.zip"}],"artifacts":[' "$work" "$port"
  for i in $(seq 1 "$count"); do
    sha=$($bin/blobfetch-testgen "$i" $((size_kib * 1024)) "$work/www/b$i/k.zip" | cut -d' ' -f1)
    echo "http://127.0.0.1:$port/b$i/k.zip" >> "$work/urls.txt"
    printf '  dir=%s/aria/b%s\n  out=k.zip\n' "$work" "$i" >> "$work/urls.txt"
    [ "$i" -gt 1 ] && printf ','
    printf '{"name":"b%s","sha":"k","size":%s,"sha256":"%s"}' "$i" $((size_kib * 1024)) "$sha"
  done
  printf ']}\n'
} > "$work/m.json"
sed 's/"sources"/"options":{"verify_cached_hash":false},"sources"/' "$work/m.json" > "$work/sizeonly.json"
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$work/nginx/nginx.conf" <<CONF
daemon off; $user_line worker_processes 1; error_log $work/nginx/logs/error.log warn; pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  keepalive_requests 100000; sendfile on; server { listen 127.0.0.1:$port; root $work/www; location / { } } }
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & nginx_pid=$!
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.05; done

declare -A cmds=(
  [blobfetch]="rm -rf $work/cache && $bin/blobfetch fetch $work/m.json --quiet"
  [aria2c_j16]="rm -rf $work/aria && aria2c -q -i $work/urls.txt -j16 --allow-overwrite=true --auto-file-renaming=false"
  [blobfetch_cached_sha256]="$bin/blobfetch fetch $work/m.json --quiet"
  [blobfetch_cached_size_only]="$bin/blobfetch fetch $work/sizeonly.json --quiet"
)
order=(blobfetch aria2c_j16 blobfetch_cached_sha256 blobfetch_cached_size_only)
declare -A times
for r in $(seq 0 "$rounds"); do
  for t in "${order[@]}"; do
    [ "$t" = blobfetch_cached_sha256 ] && $bin/blobfetch fetch "$work/m.json" --quiet   # make sure all is cached
    sync; sleep 2
    s=$(date +%s.%N); eval "${cmds[$t]}"; e=$(date +%s.%N)
    [ "$r" -eq 0 ] && continue
    times[$t]+="$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }') "
  done
done
# Outputs are checked: blobfetch verified each SHA-256 itself; aria2c's are compared.
for i in 1 $((count / 2)) "$count"; do cmp -s "$work/aria/b$i/k.zip" "$work/www/b$i/k.zip" || { echo "aria2c output b$i differs"; exit 1; }; done
[ "$(find "$work/cache" -name k.zip | wc -l)" -eq "$count" ] || { echo "blobfetch did not publish every blob"; exit 1; }

echo "| tool (${count} x ${size_kib} KiB, loopback nginx, ${rounds} rounds) | median s | min-max s |"
echo "|---|---|---|"
for t in "${order[@]}"; do
  sorted=$(tr ' ' '\n' <<<"${times[$t]}" | grep . | sort -g)
  n=$(wc -l <<<"$sorted"); med=$(sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted")
  printf '| %s | %.2f | %.2f-%.2f |\n' "$t" "$med" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"
done
