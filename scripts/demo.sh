#!/usr/bin/env bash
# hoist's main job end to end on a fresh machine: build it, make a base image from a busybox root
# filesystem, build a multi-stage Dockerfile on it, run the result, push it to `hoist registry serve` and
# pull it back; then list, inspect and save images, load the archive into the Docker Engine and run it
# there, run, commit and export a container with hoist, and load the archive back.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/peers.sh install
scripts/peers.sh start
trap 'scripts/peers.sh stop' EXIT
cargo build --release -q -p hoist
hoist=$PWD/target/release/hoist
work=$(mktemp -d)
trap 'rm -rf "$work"; scripts/peers.sh stop' EXIT
export HOIST_ROOT=$work/root

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh cat cp chmod mkdir; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo "hello from hoist" >"$work/rootfs/etc/motd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

mkdir -p "$work/app/src"
echo 'echo "hello from a hoist-built image"' >"$work/app/src/hello.sh"
echo "node_modules" >"$work/app/.dockerignore"
cat >"$work/app/Dockerfile" <<'DOCKERFILE'
FROM busybox AS builder
WORKDIR /src
COPY src/ ./
RUN mkdir -p /out && cp hello.sh /out/hello.sh && chmod 755 /out/hello.sh

FROM busybox
COPY --from=builder /out/ /app/
LABEL org.opencontainers.image.title="hoist demo"
CMD ["/bin/sh", "/app/hello.sh"]
DOCKERFILE
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

set -x
$hoist import "$work/rootfs.tar" busybox:latest
# Build a multi-stage Dockerfile, then again (every step cached), run it, push it to hoist's own
# registry and pull it back.
$hoist build -t demo-app:1.0 "$work/app"
$hoist build -t demo-app:1.0 "$work/app"
$hoist run --rm demo-app:1.0
$hoist history demo-app:1.0
REGISTRY_HTTP_ADDR=127.0.0.1:$port REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$work/registry \
  $hoist registry serve >"$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill "$registry_pid" 2>/dev/null || true; rm -rf "$work"; scripts/peers.sh stop' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
$hoist tag demo-app:1.0 "127.0.0.1:$port/demo/app:1.0"
$hoist push "127.0.0.1:$port/demo/app:1.0"
$hoist rmi "127.0.0.1:$port/demo/app:1.0" demo-app:1.0
$hoist pull "127.0.0.1:$port/demo/app:1.0"
$hoist run --rm "127.0.0.1:$port/demo/app:1.0"
kill "$registry_pid"
$hoist import -c 'CMD ["/bin/sh", "-c", "cat /etc/motd"]' -m "demo" "$work/rootfs.tar" demo:1.0
$hoist tag demo:1.0 demo:latest
$hoist images
$hoist history demo:1.0
$hoist image inspect --format '{{.Id}} {{.Config.Cmd}} {{.RootFS.Layers}}' demo:1.0
$hoist save demo:1.0 | gzip >"$work/demo.tar.gz"
if docker version >/dev/null 2>&1; then
  docker load -i "$work/demo.tar.gz"
  docker run --rm --network none demo:1.0
  docker rmi demo:1.0 >/dev/null
fi
# Containers: run one, see and commit its change, and flatten it with export | import (the seeds' recipes).
$hoist run --rm demo:1.0
$hoist run --name demo-c demo:1.0 sh -c 'echo "config v2" >/etc/app.conf; rm /etc/motd'
$hoist diff demo-c
$hoist commit -m "Added config" demo-c demo:config-update
$hoist run --rm demo:config-update sh -c 'cat /etc/app.conf'
$hoist export demo-c | $hoist import --change 'CMD ["/bin/sh", "-c", "cat /etc/app.conf"]' - demo:minimal
$hoist run --rm demo:minimal
$hoist ps -a
$hoist rm demo-c
$hoist rmi demo:config-update demo:minimal
$hoist rmi demo:1.0 demo:latest
$hoist load -i "$work/demo.tar.gz"
$hoist images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
$hoist system df
$hoist system check
