#!/usr/bin/env bash
# Installs what keepalive-lab needs on a Debian/Ubuntu machine: nginx (when missing) and the
# npm dependencies, then builds dist/ (no prepare script: a packed keepalive-lab installs with no
# script to run, and none for npm to list).
# --capture installs tcpdump, which --capture (packet evidence of each run) needs.
# --tests also installs tcpdump and tshark (the capture suite reads packets back with Wireshark's
# command line), Chromium, which the report suite opens report.html in (headless,
# through playwright-core), python3 for the gate suite's non-Node upstream, and haproxy and caddy
# for their suites; a sweep itself needs none of them (--proxy haproxy needs haproxy, --proxy
# caddy needs caddy).
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=false
with_capture=false
for arg in "$@"; do
  case "$arg" in
    --tests) with_tests=true; with_capture=true ;;
    --capture) with_capture=true ;;
    *) echo "setup.sh: unknown option $arg: use --tests, --capture or nothing" >&2; exit 2 ;;
  esac
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
packages=()
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then packages+=(nginx); fi
if $with_tests && ! command -v chromium >/dev/null 2>&1 && [ -z "${KEEPALIVE_LAB_CHROMIUM:-}" ]; then packages+=(chromium); fi
# The gate suite's non-Node upstream is Python's http.server.
if $with_tests && ! command -v python3 >/dev/null 2>&1; then packages+=(python3); fi
if $with_tests && ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then packages+=(haproxy); fi
if $with_tests && ! command -v caddy >/dev/null 2>&1; then packages+=(caddy); fi
if $with_capture && ! command -v tcpdump >/dev/null 2>&1 && [ ! -x /usr/bin/tcpdump ] && [ ! -x /usr/sbin/tcpdump ]; then packages+=(tcpdump); fi
if $with_tests && ! command -v tshark >/dev/null 2>&1; then packages+=(tshark); fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "setup: installing ${packages[*]} with apt-get"
  $sudo apt-get update -q
  # The harness starts its own nginx (and haproxy) per run; the packages' system services are not used.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
  # Where systemd runs, the caddy package starts a server on port 80: not wanted here.
  if [[ " ${packages[*]} " == *" caddy "* ]] && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now caddy >/dev/null 2>&1 || true
  fi
fi

npm ci --no-audit --no-fund
npm run build
