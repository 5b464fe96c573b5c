#!/usr/bin/env bash
# The Windows stage: cross-builds blobfetch with mingw-w64 and runs what
# applies under Wine.
#   1. installs the Debian packages (mingw-w64, Wine, zlib for mingw);
#   2. builds a static libcurl (Debian's curl source, Schannel for TLS) once,
#      into .cache/mingw-curl/ (ignored by git; kept between runs: delete it
#      to rebuild);
#   3. cross-configures and builds into build-win/ (cmake/mingw-w64.cmake);
#   4. checks the C header as C99 with the mingw C compiler and that the
#      plugin DLL exports bf_get_provider alone (objdump -p);
#   5. runs the Windows unit tests under Wine, then blobfetch.exe and
#      blobfetch_plugin.dll end to end under Wine against nginx on 127.0.0.1
#      (tests/windows/end_to_end.py, in build-win/e2e).
# Prints how long each step took. Exit status: non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${BLOBFETCH_JOBS:-2}
triplet=x86_64-w64-mingw32
cache=$root/.cache/mingw-curl
started=$(date +%s)
step() { echo "windows: [$(( $(date +%s) - started ))s] $*"; }

# ---------------------------------------------------------------- packages
packages=(mingw-w64 wine wine64 libz-mingw-w64-dev dpkg-dev cmake ninja-build nlohmann-json3-dev libcli11-dev
  googletest nginx python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- libcurl
# Debian ships no libcurl for mingw: build the one of Debian's own source
# package, static, with Schannel (Windows' TLS) and only the protocols the
# plugin uses (http, https, file).
if [ ! -f "$cache/install/lib/libcurl.a" ]; then
  step "building a static libcurl for $triplet into $cache (once)"
  if ! ls /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | xargs grep -qs '^Types:.*deb-src\|^deb-src'; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
      $sudo_cmd tee /etc/apt/sources.list.d/blobfetch-deb-src.sources >/dev/null
    $sudo_cmd apt-get update -qq
  fi
  rm -rf "$cache/src"
  mkdir -p "$cache/src"
  (cd "$cache/src" && apt-get source --download-only -qq curl >/dev/null && dpkg-source -x --skip-patches curl_*.dsc curl >/dev/null)
  (
    cd "$cache/src/curl"
    ./configure -q --host=$triplet CC=$triplet-gcc-posix --prefix="$cache/install" \
      --with-schannel --disable-shared --enable-static --with-zlib=/usr/$triplet \
      --disable-ftp --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
      --disable-pop3 --disable-imap --disable-smtp --disable-gopher --disable-mqtt --disable-smb --disable-manual \
      --without-libpsl --without-brotli --without-zstd --without-libidn2 --without-nghttp2 --without-libssh2 \
      --without-librtmp --disable-docs >/dev/null 2>"$cache/configure.err" || { cat "$cache/configure.err"; exit 1; }
    make -s -j"$jobs" -C lib >/dev/null
    make -s -C lib install >/dev/null
    make -s -C include install >/dev/null
  )
  rm -rf "$cache/src"
else
  step "libcurl for $triplet: cached in $cache"
fi

# ---------------------------------------------------------------- build
step "cross-configuring and building into build-win/"
cmake -S . -B build-win -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBLOBFETCH_WERROR=ON -DBLOBFETCH_MINGW_CURL="$cache/install" >/dev/null
cmake --build build-win -j"$jobs"

# ---------------------------------------------------------------- the C ABI
step "the C header as C99 with the mingw C compiler"
$triplet-gcc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c include/blobfetch/fetch_provider.h
step "the plugin DLL exports bf_get_provider and nothing else"
dll=build-win/bin/blobfetch_plugin.dll
exports=$($triplet-objdump -p "$dll" | awk '/^\[Ordinal\/Name Pointer\] Table/ {t=1; next} t && NF==0 {t=0} t {print $NF}')
if [ "$exports" != "bf_get_provider" ]; then
  echo "windows: $dll exports [$(echo $exports)], not exactly bf_get_provider" >&2
  exit 1
fi
echo "windows: $dll exports: $exports"

# ---------------------------------------------------------------- tests
# Wine keeps its prefix in ~/.wine (made on first use, a few seconds).
export WINEDEBUG=-all
step "unit tests under Wine"
(cd build-win && ctest --output-on-failure -L unit)
step "end to end under Wine: blobfetch.exe + blobfetch_plugin.dll against nginx"
python3 tests/windows/end_to_end.py build-win/bin build-win/e2e
step "done in $(( $(date +%s) - started ))s"
