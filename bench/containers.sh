#!/usr/bin/env bash
# Containers side by side with the Docker Engine, same images, same machine, one run; prints medians and
# docker/hoist ratios against the 2x target:
#   1. start to exit of `true`:  hoist run --rm IMG true  vs  docker run --rm --network none IMG true
#   2. commit of a 100 MiB change (a fresh container that wrote 100 MiB of noise for every run)
#   3. export of a 50,000-file container (`export c > /dev/null`)
#   4. exec latency:  hoist exec C true  vs  docker exec C true, in a running container
#   5. start to exit with a published port: run --rm -p 127.0.0.1::80 IMG true (hoist via slirp4netns)
#   bench/containers.sh        (RUNS=5 for commit and export, 3*RUNS+5 runs of `true` by default; medians)
# Images: a busybox rootfs tar made here from the host's busybox-static, imported by each tool; the
# 50,000-file image from hoist-bench-images (cached in bench/out/), loaded by each tool.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
RUN_RUNS=${RUN_RUNS:-$((3 * RUNS + 5))}
scripts/peers.sh install >&2
scripts/peers.sh start >&2
cargo build --release -q -p hoist -p hoist-test-support
out=$PWD/bench/out
mkdir -p "$out"
hoist=$PWD/target/release/hoist
[[ -f $out/files.tar ]] || target/release/hoist-bench-images files "$out/files.tar"
busybox=$(command -v busybox)
work=$(mktemp -d)
img=bench/busybox:1
docker_names=()
have_docker=0
cleanup() {
  if ((have_docker)); then
    for n in "${docker_names[@]}"; do docker rm -f "$n" >/dev/null 2>&1 || true; done
    for run in $(seq 1 "$RUNS"); do docker rmi -f "bench/committed:$run" >/dev/null 2>&1 || true; done
    docker rmi -f "$img" bench/files:1 >/dev/null 2>&1 || true
  fi
  # hoist's containers and images live in $work (HOIST_ROOT): stop what runs, then drop the store.
  "$hoist" ps -a -q 2>/dev/null | xargs -r "$hoist" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
  scripts/peers.sh stop >&2
}
trap cleanup EXIT
echo '{}' >"$work/daemon.json"
export HOIST_CONFIG=$work/daemon.json HOIST_ROOT=$work/root
docker version >/dev/null 2>&1 && have_docker=1

# The busybox image: the host's static busybox with the applets the benchmark calls, imported by both.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp "$busybox" "$work/rootfs/bin/busybox"
for applet in sh true dd rm sleep; do ln -s busybox "$work/rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
change=(-c 'CMD ["/bin/sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'LABEL hoist-bench=containers')
"$hoist" import "${change[@]}" "$work/busybox.tar" "$img" >/dev/null
"$hoist" load -q -i "$out/files.tar" >/dev/null
if ((have_docker)); then
  docker rmi -f "$img" bench/files:1 >/dev/null 2>&1 || true
  docker import "${change[@]}" "$work/busybox.tar" "$img" >/dev/null
  docker load -q -i "$out/files.tar" >/dev/null
fi

# time_cmd FILE CMD...: appends the wall seconds of one run of CMD (stdout to /dev/null) to FILE.
time_cmd() {
  local file=$1; shift
  /usr/bin/time -f '%e' -o "$file.one" "$@" >/dev/null
  cat "$file.one" >>"$file"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# 1. start to exit of `true` (hyperfine; warm-up runs unpack the image's layers first).
hf=(hyperfine -N --warmup 3 --runs "$RUN_RUNS" --export-json "$work/run.json" "$hoist run --rm $img true")
((have_docker)) && hf+=("docker run --rm --network none $img true")
"${hf[@]}" >&2
run_ms() { jq ".results[$1].median * 1000 | . * 10 | round / 10" "$work/run.json"; }
hoist_run=$(run_ms 0)
docker_run=n/a
((have_docker)) && docker_run=$(run_ms 1)

# 4. exec latency in a running container, and 5. a start with a published port (hyperfine).
"$hoist" run -d --name bench-exec "$img" sleep 3600 >/dev/null
hf=(hyperfine -N --warmup 3 --runs "$RUN_RUNS" --export-json "$work/exec.json" "$hoist exec bench-exec true")
if ((have_docker)); then
  docker_names+=(bench-exec)
  docker run -d --name bench-exec --network none "$img" sleep 3600 >/dev/null
  hf+=("docker exec bench-exec true")
fi
"${hf[@]}" >&2
"$hoist" rm -f bench-exec >/dev/null
hf=(hyperfine -N --warmup 3 --runs "$RUN_RUNS" --export-json "$work/publish.json" "$hoist run --rm -p 127.0.0.1::80 $img true")
((have_docker)) && hf+=("docker run --rm -p 127.0.0.1::80 $img true")
"${hf[@]}" >&2
json_ms() { jq ".results[$2].median * 1000 | . * 10 | round / 10" "$work/$1.json"; }
hoist_exec=$(json_ms exec 0)
hoist_publish=$(json_ms publish 0)
docker_exec=n/a
docker_publish=n/a
if ((have_docker)); then
  docker_exec=$(json_ms exec 1)
  docker_publish=$(json_ms publish 1)
fi

# 2. commit of a 100 MiB change and 3. export of 50,000 files, RUNS times each, fresh containers.
rm -f "$work"/*.times
write='dd if=/dev/urandom of=/noise bs=1048576 count=100 2>/dev/null'
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  "$hoist" run --name "bench-commit-$run" "$img" sh -c "$write"
  sync
  time_cmd "$work/hoist-commit.times" "$hoist" commit "bench-commit-$run" "bench/committed:$run"
  "$hoist" rm "bench-commit-$run" >/dev/null
  "$hoist" rmi "bench/committed:$run" >/dev/null
  "$hoist" create --name "bench-export-$run" bench/files:1 >/dev/null
  time_cmd "$work/hoist-export.times" "$hoist" export "bench-export-$run"
  "$hoist" rm "bench-export-$run" >/dev/null
  if ((have_docker)); then
    docker_names+=("bench-commit-$run" "bench-export-$run")
    docker run --name "bench-commit-$run" --network none "$img" sh -c "$write"
    sync
    time_cmd "$work/docker-commit.times" docker commit "bench-commit-$run" "bench/committed:$run"
    docker rm "bench-commit-$run" >/dev/null
    docker rmi "bench/committed:$run" >/dev/null
    docker create --name "bench-export-$run" --network none bench/files:1 >/dev/null
    time_cmd "$work/docker-export.times" docker export "bench-export-$run"
    docker rm "bench-export-$run" >/dev/null
  fi
done

ratio() { awk -v h="$1" -v d="$2" 'BEGIN {printf ((h > 0 && d > 0) ? "%.1fx" : "n/a"), d / h}'; }
verdict() { awk -v h="$1" -v d="$2" 'BEGIN {print ((h > 0 && d > 0) ? (d / h >= 2 ? "met" : "not met") : "n/a")}'; }
row() { # label unit hoist docker
  printf '| %s | %s %s | %s %s | %s | %s |\n' "$1" "$3" "$2" "$4" "$2" "$(ratio "$3" "$4")" "$(verdict "$3" "$4")"
}
m() { if [[ -f $work/$1.times ]]; then median <"$work/$1.times"; else echo n/a; fi; }
echo
echo "| operation | hoist | docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '-') | docker/hoist | 2x target |"
echo "|---|---|---|---|---|"
row "run --rm, start to exit of \`true\`" ms "$hoist_run" "$docker_run"
row "commit, 100 MiB change" s "$(m hoist-commit)" "$(m docker-commit)"
row "export, 50,000 files (to /dev/null)" s "$(m hoist-export)" "$(m docker-export)"
row "exec \`true\` in a running container" ms "$hoist_exec" "$docker_exec"
row "run --rm with a published port, \`true\`" ms "$hoist_publish" "$docker_publish"
echo
echo "Medians: $RUN_RUNS runs of \`true\`, exec and the published-port start (hyperfine, 3 warm-up runs), $RUNS of commit and export; storage driver hoist $("$hoist" info --format '{{.Driver}}' 2>/dev/null || echo '?'), docker $(docker info --format '{{.Driver}}' 2>/dev/null || echo '-')."
