#!/usr/bin/env bash
# Installs blobfetch's build and test dependencies (Debian packages) when any
# is missing. Used by the demo, the test command and CI.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev zlib1g-dev libssl-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nginx curl aria2 binutils python3 time openssl
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The nginx package may start a system-wide server; the tests run their own.
# Azurite (the Azure Storage emulator) for the x-azblob tests, from the npm
# registry, into .ci/node/ (ignored by git). Tests skip, saying why, without it.
if command -v npm >/dev/null && [ ! -x .ci/node/node_modules/.bin/azurite-blob ]; then
  echo "deps: installing azurite (npm)"
  npm install --prefix .ci/node --no-audit --no-fund --loglevel=error azurite@3 >/dev/null || \
    echo "deps: azurite could not be installed; the Azure Blob tests will be skipped"
fi
