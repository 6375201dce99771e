#!/usr/bin/env bash
# Installs what keepalive-lab needs on a Debian/Ubuntu machine: nginx (when missing) and the
# npm dependencies (npm ci also builds dist/ through the prepare script).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing nginx with apt-get"
  $sudo apt-get update -q
  # The harness starts its own nginx per run; the package's system service is not used.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx
fi

npm ci --no-audit --no-fund
