#!/usr/bin/env bash
# `npm test`: everything a fresh Debian 12 machine needs for the tests, then every test suite
# (unit, integration, e2e; arguments select suites or files, see test/run.ts).
# As root, missing Debian packages are installed from the mirrors apt is configured with.
set -euo pipefail
cd "$(dirname "$0")/.."

# The lab (systemd-nspawn + network namespaces) and the real tools the tests run.
packages=(debootstrap systemd-container iproute2 openssl openssh-client curl etcd-server etcd-client iptables)
# The integration tests run a real kubectl; Debian's comes with kubernetes-client unless one is installed.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
if [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages for the tests: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "not root: the end-to-end tests (lab hosts) will be skipped" >&2
fi

[ -d node_modules/typescript ] || npm ci --no-audit --no-fund
npm run build
exec node dist/test/run.js "$@"
