#!/usr/bin/env bash
# Installs the build into a fresh prefix, then builds and runs an external
# consumer against it (find_package and pkg-config), and runs the installed
# host, which must find the installed plugin by itself.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d /tmp/blobfetch-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix/usr" >/dev/null
echo "installed files:"; (cd "$prefix/usr" && find . -type f | sort)

cmake -S "$src/tests/install/consumer" -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix/usr" >/dev/null
cmake --build "$prefix/consumer" >/dev/null
out=$("$prefix/consumer/consumer")
echo "$out"
grep -q "^loaded blobfetch " <<<"$out"

pc=$(find "$prefix/usr" -name blobfetch.pc)
plugin=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=plugin blobfetch)
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags blobfetch | xargs)
echo "pkg-config: plugin=$plugin cflags=$cflags"
test -f "$plugin"
test -f "${cflags#-I}/blobfetch/fetch_provider.h"

# The installed host loads the installed plugin (no --plugin, no environment).
abi=$(printf '%064d' 1)  # an ABI key as vcpkg makes them: 64 hex digits
mkdir -p "$prefix/data/a" "$prefix/cache"
printf 'hello' > "$prefix/data/a/$abi.zip"
cat > "$prefix/m.json" <<JSON
{"version":1,"cache_dir":"$prefix/cache","sources":[{"url":"file://$prefix/data/{name}/{sha}.zip"}],
 "artifacts":[{"name":"a","sha":"$abi","size":5}]}
JSON
env -u BLOBFETCH_PLUGIN "$prefix/usr/bin/blobfetch" fetch "$prefix/m.json" -q
test "$(cat "$prefix/cache/a/$abi.zip")" = hello
echo "install test passed"
