#!/usr/bin/env bash
# Installs everything PicoTrader and its lab need on a Debian machine, idempotently and quickly
# when already done: Debian packages, npm packages, the build, and the lab's cached image.
# Runs as root (the lab needs it). Used by `npm run demo`, `npm test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in mmdebstrap systemd-container apt-utils iproute2 openssh-client util-linux openssl tftp-hpa ssh-audit time qemu-user-static arch-test; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.picotrader-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

npm run --silent build

if [ "$(id -u)" -eq 0 ] && [ "$(uname -s)" = Linux ]; then
  node dist/bin/picotrader.js lab image
fi
