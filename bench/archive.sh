#!/usr/bin/env bash
# save/load side by side with the Docker Engine, same images, same machine, one run; prints ratios.
#   bench/archive.sh            (RUNS=3 by default; medians are reported)
# Images (made by hoist-bench-images, cached in bench/out/): an 8-layer 512 MiB image (half incompressible),
# a 50,000-file image, and 10,000 tagged images for the `images` listing time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
scripts/peers.sh install >&2
scripts/peers.sh start >&2
trap 'scripts/peers.sh stop >&2' EXIT
cargo build --release -q -p hoist -p hoist-test-support
out=$PWD/bench/out
mkdir -p "$out"
gen=$PWD/target/release/hoist-bench-images
hoist=$PWD/target/release/hoist
[[ -f $out/big.tar ]] || $gen big "$out/big.tar"
[[ -f $out/files.tar ]] || $gen files "$out/files.tar"
[[ -f $out/many.tar ]] || $gen many 10000 "$out/many.tar"
echo '{}' >"$out/daemon.json"
export HOIST_CONFIG=$out/daemon.json HOIST_ROOT=$out/root
have_docker=0
docker version >/dev/null 2>&1 && have_docker=1

# time_cmd FILE CMD...: appends "seconds maxrss_kb" for one run of CMD to FILE.
time_cmd() {
  local file=$1; shift
  /usr/bin/time -f '%e %M' -o "$file.one" "$@" >/dev/null
  cat "$file.one" >>"$file"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { awk -v c="$2" '{print $c}' "$1"; }

rm -f "$out"/*.times
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  # load: a fresh store for hoist, the image removed first for docker.
  rm -rf "$HOIST_ROOT"; sync
  time_cmd "$out/hoist-load-big.times" "$hoist" load -i "$out/big.tar"
  time_cmd "$out/hoist-save-big.times" "$hoist" save -o "$out/hoist-saved.tar" bench/big:1
  rm -f "$out/hoist-saved.tar"
  rm -rf "$HOIST_ROOT"; sync
  time_cmd "$out/hoist-load-files.times" "$hoist" load -i "$out/files.tar"
  if ((have_docker)); then
    docker rmi -f bench/big:1 bench/files:1 >/dev/null 2>&1 || true
    sync
    time_cmd "$out/docker-load-big.times" docker load -i "$out/big.tar"
    time_cmd "$out/docker-save-big.times" docker save -o "$out/docker-saved.tar" bench/big:1
    rm -f "$out/docker-saved.tar"
    sync
    time_cmd "$out/docker-load-files.times" docker load -i "$out/files.tar"
    docker rmi -f bench/big:1 bench/files:1 >/dev/null 2>&1 || true
  fi
done

# `images` with 10,000 tagged images.
rm -rf "$HOIST_ROOT"
"$hoist" load -q -i "$out/many.tar" >/dev/null
images_ms=$(hyperfine -N --warmup 3 --runs 20 --export-json "$out/images.json" "$hoist images" >/dev/null 2>&1 &&
  jq '.results[0].median * 1000 | . * 10 | round / 10' "$out/images.json")
images_rows=$("$hoist" images -q | wc -l)
rm -rf "$HOIST_ROOT"

row() { # name hoist-file docker-file
  local h d ratio rss
  h=$(col "$out/$2.times" 1 | median)
  rss=$(col "$out/$2.times" 2 | sort -n | tail -1)
  if [[ -f $out/$3.times ]]; then
    d=$(col "$out/$3.times" 1 | median)
    ratio=$(awk -v h="$h" -v d="$d" 'BEGIN {printf "%.1fx", (h > 0 ? d / h : 0)}')
  else
    d="n/a"; ratio="n/a"
  fi
  printf '| %s | %s s | %s s | %s | %s MiB |\n' "$1" "$h" "$d" "$ratio" "$((rss / 1024))"
}
echo
echo "| operation | hoist | docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '-') | docker/hoist | hoist peak RSS |"
echo "|---|---|---|---|---|"
row "save, 8 layers 512 MiB" hoist-save-big docker-save-big
row "load, 8 layers 512 MiB" hoist-load-big docker-load-big
row "load, 50,000 files" hoist-load-files docker-load-files
echo "| images, $images_rows tagged images | ${images_ms} ms | | | |"
echo
echo "median of $RUNS runs; hoist defers unpacking to first use (docker unpacks at load), so load + first start is compared once run exists."
