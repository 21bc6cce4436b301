#!/usr/bin/env bash
# Installs the real peers the interop tests and benchmarks compare against (Debian packages) and starts
# the Docker Engine if it is not running. Prints what it did; safe to run repeatedly.
#   scripts/peers.sh install   install missing packages (needs root)
#   scripts/peers.sh start     start dockerd if needed; prints the pid it started to .peers/dockerd.pid
#   scripts/peers.sh stop      stop the dockerd this script started (by pid)
set -euo pipefail
cd "$(dirname "$0")/.."
state=.peers
mkdir -p "$state"

packages=(docker.io docker-registry skopeo umoci busybox-static apache2-utils slirp4netns hyperfine jq time xz-utils bzip2 zstd curl openssl)

install() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "peers: missing ${missing[*]} and not root; interop tests will be skipped" >&2
      return 0
    fi
    echo "peers: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

docker_up() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start() {
  if docker_up; then
    echo "peers: Docker Engine already running"
    return 0
  fi
  if ! command -v dockerd >/dev/null; then
    echo "peers: dockerd not installed; Docker interop tests will be skipped" >&2
    return 0
  fi
  echo "peers: starting dockerd"
  dockerd --iptables=false --bridge=none >"$state/dockerd.log" 2>&1 &
  echo $! >"$state/dockerd.pid"
  for _ in $(seq 1 60); do
    docker_up && { echo "peers: Docker Engine up"; return 0; }
    sleep 1
  done
  echo "peers: dockerd did not come up; log follows" >&2
  tail -20 "$state/dockerd.log" >&2 || true
}

stop() {
  if [[ -f $state/dockerd.pid ]]; then
    local pid
    pid=$(cat "$state/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    rm -f "$state/dockerd.pid"
    echo "peers: stopped dockerd $pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
