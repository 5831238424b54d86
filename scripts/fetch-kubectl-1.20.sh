#!/usr/bin/env bash
# Unpacks Debian's kubernetes-client (kubectl 1.20) into DEST without installing it: its package
# collides with the kubectl 1.32 at /usr/bin/kubectl (reference/kubernetes-api.md, section 0).
# Prints the path of the kubectl binary. Idempotent.
set -euo pipefail
dest=${1:?usage: fetch-kubectl-1.20.sh DEST}
bin="$dest/usr/bin/kubectl"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download kubernetes-client >/dev/null 2>&1) || {
  apt-get update -qq >/dev/null 2>&1 || true
  (cd "$work" && apt-get download kubernetes-client >/dev/null)
}
dpkg -x "$work"/kubernetes-client_*.deb "$dest"
"$bin" version --client >/dev/null 2>&1 || { echo "kubectl 1.20 unpacked but does not run" >&2; exit 1; }
echo "$bin"
