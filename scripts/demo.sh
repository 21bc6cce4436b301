#!/usr/bin/env bash
# hoist's main job end to end on a fresh machine: build it, make an image from a busybox root filesystem,
# list and inspect it, save it, load the archive into the Docker Engine and run it there, run a container
# of it with hoist, commit and export that container, and load the archive back.
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
ln -s busybox "$work/rootfs/bin/sh"
echo "hello from hoist" >"$work/rootfs/etc/motd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

set -x
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
