#!/usr/bin/env bash
# A first throughput comparison: one blob from a local nginx on 127.0.0.1,
# fetched by blobfetch (the host loading the plugin, default options: 8
# connections, 2 MiB chunks) with strict durability and SHA-256, with relaxed
# durability, and relaxed without a hash; and by curl, in alternated rounds
# after a warm-up. Prints a Markdown table of median (min-max) wall seconds.
# The full harness (aria2c, capped servers, many blobs, resume, cancel) is
# issue 5.
#   bash bench/quick_compare.sh [SIZE_MIB] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
rounds=${2:-5}
bin=build/bin
[ -x $bin/blobfetch ] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build -j2"; exit 2; }

work=$(mktemp -d /tmp/blobfetch-bench-XXXXXX)
trap 'kill $nginx_pid 2>/dev/null || true; wait $nginx_pid 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www/blob" "$work/nginx/logs" "$work/nginx/tmp"
sha=$($bin/blobfetch-testgen 42 $((size_mib << 20)) "$work/www/blob/k.zip" | cut -d' ' -f1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$work/nginx/nginx.conf" <<CONF
daemon off; $user_line worker_processes 1; error_log $work/nginx/logs/error.log warn; pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  sendfile on; server { listen 127.0.0.1:$port; root $work/www; location / { } } }
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & nginx_pid=$!
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.05; done
manifest() {  # file, durability, sha256 field
  cat > "$1" <<JSON
{"version":1,"cache_dir":"$work/cache","sources":[{"url":"http://127.0.0.1:$port/{name}/{sha}.zip"}],
 "options":{"durability":"$2"},
 "artifacts":[{"name":"blob","sha":"k","size":$((size_mib << 20))$3}]}
JSON
}
manifest "$work/m.json" strict ",\"sha256\":\"$sha\""
manifest "$work/relaxed.json" relaxed ",\"sha256\":\"$sha\""
manifest "$work/nohash.json" relaxed ""
url="http://127.0.0.1:$port/blob/k.zip"

declare -A cmds=(
  [blobfetch]="$bin/blobfetch fetch $work/m.json --quiet"
  [blobfetch_relaxed]="$bin/blobfetch fetch $work/relaxed.json --quiet"
  [blobfetch_relaxed_nohash]="$bin/blobfetch fetch $work/nohash.json --quiet"
  [curl_disk]="curl -sS -o $work/curl.out $url"
  [curl_fsync]="sh -c 'curl -sS -o $work/curl.out $url && sync $work/curl.out'"
  [curl_null]="curl -sS -o /dev/null $url"
)
order=(blobfetch blobfetch_relaxed blobfetch_relaxed_nohash curl_disk curl_fsync curl_null)
declare -A times
for r in $(seq 0 "$rounds"); do
  for t in "${order[@]}"; do
    rm -rf "$work/cache" "$work/curl.out"; sync; sleep 3   # let the VM settle (see issue 5's method)
    s=$(date +%s.%N); eval "${cmds[$t]}"; e=$(date +%s.%N)
    [ "$r" -eq 0 ] && continue   # warm-up round
    times[$t]+="$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }') "
  done
done
# Every blobfetch variant's output is checked byte-exact.
for m in m relaxed nohash; do
  rm -rf "$work/cache"
  $bin/blobfetch fetch "$work/$m.json" --quiet
  [ "$(sha256sum "$work/cache/blob/k.zip" | cut -c1-64)" = "$sha" ] || { echo "blobfetch ($m) output corrupt"; exit 1; }
done

echo "| tool (${size_mib} MiB, loopback nginx, ${rounds} rounds) | median s | min-max s |"
echo "|---|---|---|"
for t in "${order[@]}"; do
  sorted=$(tr ' ' '\n' <<<"${times[$t]}" | grep . | sort -g)
  n=$(wc -l <<<"$sorted"); med=$(sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted")
  printf '| %s | %.2f | %.2f-%.2f |\n' "$t" "$med" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"
done
