#!/usr/bin/env bash
# The demo: installs what is missing, builds, serves generated demo blobs from
# a local nginx on 127.0.0.1, and fetches manifests/demo.json through the host
# and the plugin -- twice, to show the second run skipping everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash .ci/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j 2 --target blobfetch blobfetch_plugin blobfetch-testgen

demo="$root/build/demo"
mkdir -p "$demo/www" "$demo/nginx/logs" "$demo/nginx/tmp"
# name  abi-key(sha)  seed  size  -- must match manifests/demo.json
while read -r name sha seed size; do
  out="$demo/www/$name/$sha.zip"
  [ -f "$out" ] && [ "$(stat -c %s "$out")" = "$size" ] || build/bin/blobfetch-testgen "$seed" "$size" "$out" >/dev/null
done <<'LIST'
zlib 9a3c1f3e4b5d6c7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a 101 163840
fmt 1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6 102 1258291
openssl 2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7 103 25165824
boost-headers 3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708 104 67108864
empty-port 4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f70819 105 0
LIST

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$demo/nginx/nginx.conf" <<CONF
daemon off;
$user_line
worker_processes 1;
error_log $demo/nginx/logs/error.log warn;
pid $demo/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log $demo/nginx/logs/access.log;
  client_body_temp_path $demo/nginx/tmp/body;
  proxy_temp_path $demo/nginx/tmp/proxy;
  fastcgi_temp_path $demo/nginx/tmp/fastcgi;
  uwsgi_temp_path $demo/nginx/tmp/uwsgi;
  scgi_temp_path $demo/nginx/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  server { listen 127.0.0.1:$port; root $demo/www; location / { } }
}
CONF
/usr/sbin/nginx -p "$demo/nginx" -c "$demo/nginx/nginx.conf" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true; wait $nginx_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  kill -0 $nginx_pid 2>/dev/null || { echo "demo: nginx failed to start:"; cat "$demo/nginx/logs/error.log"; exit 1; }
  sleep 0.05
done

rm -rf "$demo/cache"
export BLOBFETCH_DEMO_URL="http://127.0.0.1:$port"
echo "== first run: downloads every blob from $BLOBFETCH_DEMO_URL into build/demo/cache"
build/bin/blobfetch fetch manifests/demo.json --cache "$demo/cache"
echo
echo "== second run: everything is already cached, nothing is requested"
build/bin/blobfetch fetch manifests/demo.json --cache "$demo/cache"
