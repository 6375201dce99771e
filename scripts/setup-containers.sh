#!/usr/bin/env bash
# Makes the containers runtime usable on a Debian/Ubuntu machine with no container registry
# (CI here): installs docker.io when there is no engine, starts dockerd when none answers,
# builds the local images (containers/offline/build-images.sh) and prints, on stdout, the
# environment to use them. Progress goes to stderr. Use:  eval "$(scripts/setup-containers.sh)"
# When it starts dockerd itself, KEEPALIVE_LAB_DOCKERD_PID and KEEPALIVE_LAB_DOCKERD_LOG name it
# and its log, for stopping and removing afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "setup-containers: $*" >&2; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  log "installing docker.io with apt-get"
  $sudo apt-get update -q >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >&2
fi

started_pid=""
if ! docker info >/dev/null 2>&1; then
  engine_log="$(mktemp -t keepalive-lab-dockerd-XXXXXX.log)"
  log "starting dockerd (log: $engine_log)"
  # --iptables=false keeps containers off every outside network; bridge networks, Docker's DNS
  # and published ports still work. vfs works on any file system, including inside a container.
  $sudo setsid dockerd --iptables=false --storage-driver=vfs >"$engine_log" 2>&1 < /dev/null &
  started_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not answer within 30 s; its log:"; tail -5 "$engine_log" >&2; exit 1; }
fi

containers/offline/build-images.sh --env
if [ -n "$started_pid" ]; then
  echo "export KEEPALIVE_LAB_DOCKERD_PID=$started_pid"
  echo "export KEEPALIVE_LAB_DOCKERD_LOG=$engine_log"
fi
exit 0
