#!/usr/bin/env bash
# Installs everything itr needs to build and test on Debian 12 (run as root).
set -euo pipefail
pkgs=(cmake make gcc g++ pkg-config
      libopenblas-dev libhdf5-dev hdf5-tools libcmocka-dev gcovr
      libjansson-dev libzip-dev zlib1g-dev libutf8proc-dev clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
