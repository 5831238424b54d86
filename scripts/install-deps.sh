#!/usr/bin/env bash
# Installs the Debian packages liborch builds and tests with, only those missing (idempotent:
# a machine that has them all runs no apt-get at all). Needs root or sudo when something is missing.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config ccache python3
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libcurl4-openssl-dev libfmt-dev doctest-dev libyaml-cpp-dev libcli11-dev
  libssl-dev zlib1g-dev
  python3-pytest python3-kubernetes python3-dev pybind11-dev
  etcd-server wrk haproxy
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
