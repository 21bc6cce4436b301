#!/usr/bin/env bash
# Registry transfers side by side in one run, same image, same machine, each tool with a fresh local
# registry (distribution 2.8, so no tool's own server helps it): push and pull of the 8-layer 512 MiB
# image with the Docker Engine, podman (when installed), skopeo and hoist. Prints seconds, ratios, and
# the single-stage floors (sha256, gunzip, disk write) that bound them.
#   bench/transfer.sh          (RUNS=3 by default; medians)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
scripts/peers.sh install >&2
command -v docker-registry >/dev/null || apt-get install -y -qq docker-registry >/dev/null
scripts/peers.sh start >&2
cargo build --release -q -p hoist -p hoist-test-support
out=$PWD/bench/out
mkdir -p "$out"
hoist=$PWD/target/release/hoist
[[ -f $out/big.tar ]] || target/release/hoist-bench-images big "$out/big.tar"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  docker rmi -f bench/big:1 >/dev/null 2>&1 || true
  rm -rf "$work"
  scripts/peers.sh stop >&2
}
trap cleanup EXIT
echo '{}' >"$work/daemon.json"
export HOIST_CONFIG=$work/daemon.json DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"

port=5400
REG=
registry() { # starts a fresh distribution registry; its address goes to REG (no subshell: port must advance)
  port=$((port + 1))
  local dir=$work/reg$port
  mkdir -p "$dir"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: 127.0.0.1:$port}
YAML
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  REG=127.0.0.1:$port
}
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN {printf "%.2f\n", e - s}'; }
# hsecs NAME CMD...: wall seconds of a hoist command (printed); its CPU seconds go to NAME.cpu (a file:
# this runs inside $(...), where variables do not reach the caller).
hsecs() {
  local name=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$work/time.one" "$@" >/dev/null 2>&1
  awk '{printf "%.2f\n", $2 + $3}' "$work/time.one" >>"$work/$name.cpu"
  awk '{printf "%.2f\n", $1}' "$work/time.one"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A t
record() { t[$1]="${t[$1]:-} $2"; }
have_podman=0
command -v podman >/dev/null && have_podman=1

docker load -q -i "$out/big.tar" >/dev/null
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  # push: every tool sends the loaded image to its own empty registry.
  registry; r=$REG; docker tag bench/big:1 "$r/bench/big:1"
  record docker-push "$(secs docker push "$r/bench/big:1")"
  docker rmi "$r/bench/big:1" >/dev/null
  # The image Docker pushed (gzip layers) is the one every tool pulls.
  src=$r
  rm -rf "$work/hoist-root"; HOIST_ROOT=$work/hoist-root "$hoist" load -q -i "$out/big.tar" >/dev/null
  registry; r=$REG; HOIST_ROOT=$work/hoist-root "$hoist" tag bench/big:1 "$r/bench/big:1"
  record hoist-push "$(HOIST_ROOT=$work/hoist-root hsecs hoist-push "$hoist" push "$r/bench/big:1")"
  registry; r=$REG
  record skopeo-push "$(secs skopeo copy -q --dest-tls-verify=false "docker-archive:$out/big.tar" "docker://$r/bench/big:1")"
  if ((have_podman)); then
    podman load -q -i "$out/big.tar" >/dev/null 2>&1
    registry; r=$REG
    podman tag bench/big:1 "$r/bench/big:1" >/dev/null 2>&1
    record podman-push "$(secs podman push --tls-verify=false "$r/bench/big:1")"
    podman rmi -f "$r/bench/big:1" bench/big:1 >/dev/null 2>&1 || true
  fi

  # pull: from the registry Docker pushed to, into an empty local store.
  docker rmi -f bench/big:1 >/dev/null 2>&1 || true
  record docker-pull "$(secs docker pull "$src/bench/big:1")"
  docker rmi "$src/bench/big:1" >/dev/null
  rm -rf "$work/hoist-pull"
  record hoist-pull "$(HOIST_ROOT=$work/hoist-pull hsecs hoist-pull "$hoist" pull "$src/bench/big:1")"
  rm -rf "$work/oci"
  record skopeo-to-oci "$(secs skopeo copy -q --src-tls-verify=false "docker://$src/bench/big:1" "oci:$work/oci:big")"
  registry; r=$REG
  record skopeo-from-oci "$(secs skopeo copy -q --dest-tls-verify=false "oci:$work/oci:big" "docker://$r/bench/big:1")"
  rm -rf "$work/hoist-oci"
  record hoist-to-oci "$(HOIST_ROOT=$work/hoist-copy hsecs hoist-to-oci "$hoist" copy -q "docker://$src/bench/big:1" "oci:$work/hoist-oci:big")"
  registry; r=$REG
  record hoist-from-oci "$(HOIST_ROOT=$work/hoist-copy hsecs hoist-from-oci "$hoist" copy -q "oci:$work/hoist-oci:big" "docker://$r/bench/big:1")"
  docker load -q -i "$out/big.tar" >/dev/null
done

m() {
  case $1 in
    *-cpu) median <"$work/${1%-cpu}.cpu" ;;
    *) echo "${t[$1]:-}" | tr ' ' '\n' | grep . | median ;;
  esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf (a > 0 && b > 0 ? "%.1fx" : "n/a"), a / b}'; }
echo
echo "| operation (8 layers, 512 MiB, local distribution 2.8) | hoist | Docker 20.10 | ratio | skopeo | podman |"
echo "|---|---|---|---|---|---|"
echo "| push | $(m hoist-push) s | $(m docker-push) s | $(ratio "$(m docker-push)" "$(m hoist-push)") | $(m skopeo-push) s (docker-archive→registry) | $( ((have_podman)) && echo "$(m podman-push) s" || echo "not installed") |"
echo "| pull | $(m hoist-pull) s | $(m docker-pull) s | $(ratio "$(m docker-pull)" "$(m hoist-pull)") | | |"
echo
echo "| copy (skopeo's transports) | hoist copy | skopeo copy | skopeo/hoist |"
echo "|---|---|---|---|"
echo "| registry → oci: layout | $(m hoist-to-oci) s | $(m skopeo-to-oci) s | $(ratio "$(m skopeo-to-oci)" "$(m hoist-to-oci)") |"
echo "| oci: layout → registry | $(m hoist-from-oci) s | $(m skopeo-from-oci) s | $(ratio "$(m skopeo-from-oci)" "$(m hoist-from-oci)") |"
echo
# What bounds each hoist operation: CPU seconds over wall seconds says how busy the two cores were
# (sha256, inflate, gzip); what is left is waiting on the registry (network) or the disk.
bound() { # name
  awk -v w="$(m "$1")" -v c="$(m "$1-cpu")" 'BEGIN {
    u = (w > 0) ? c / w : 0
    printf "%s s wall, %s s CPU (%.1f cores busy): %s", w, c, u,
      (u >= 1.5) ? "CPU-bound on both cores" : (u >= 0.8) ? "CPU-bound on about one core" : "mostly waiting on the registry or the disk"
  }'
}
echo
echo "- hoist pull: $(bound hoist-pull) (sha256 of the gzip bytes, inflate + sha256 for diff IDs, tar scan)"
echo "- hoist push: $(bound hoist-push) (gzip -1 where it pays, stored blocks elsewhere, sha256, upload)"
echo "- hoist copy registry→oci: $(bound hoist-to-oci) (sha256 while writing; no inflate)"
echo "- hoist copy oci→registry: $(bound hoist-from-oci) (the registry hashes and writes what it receives)"
echo "Medians of $RUNS runs. hoist pull stores layers as received and unpacks on first use (no run command yet, so no pull+run figure)."
echo "Every push starts from uncompressed layers (docker save); all tools gzip them (hoist once, at level 1 with incompressible chunks stored; the image keeps the gzip copy)."
