#!/usr/bin/env bash
# hoist build side by side with BuildKit (the Docker Engine's built-in builder), the Docker Engine's legacy
# builder and buildah, same Dockerfiles and contexts, same machine, one run; prints medians and
# peer/hoist ratios:
#   1. cold multi-stage build: two stages on a busybox base; stage 1: WORKDIR, two COPYs, a RUN that
#      writes 200 small files and one 5 MiB file; stage 2: COPY --from=builder, CMD
#   2. fully cached rebuild of the same (target: hoist under 50 ms)
#   3. one-file change: one COPY'd file modified, then a rebuild (the RUN after it and stage 2 rerun)
#   4. cold build of a 50,000-file context (`COPY . /data`, 50 x 10 directories of 100 small files)
#   5. peak RSS of hoist (and of buildah, also daemonless) during the cold builds (multi-stage, 50,000 files)
#   bench/build.sh          (RUNS=3 by default, CACHED_REPS=5 cached rebuilds per run; medians)
# Every build is `--network none` and tagged bench-build:1. "Cold" means: the built images removed by ID
# (intermediate ones too) and the build cache pruned (`hoist builder prune -af`, `docker builder prune
# -af`), the base image kept, a sync; each tool starts from that state, one tool after the other.
# The base image: the host's static busybox as a rootfs tar, imported by each tool as bench-busybox:1
# (hoist import, docker import, buildah from scratch + add + commit). BuildKit is used through the
# engine's built-in builder (DOCKER_BUILDKIT=1, no buildx needed with Debian's 20.10 client); when no
# docker client here can reach it the column is skipped, and so is buildah's when it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CACHED_REPS=${CACHED_REPS:-5}
scripts/peers.sh install >&2
if ! command -v buildah >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "build bench: installing buildah" >&2
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null; } >&2 ||
      echo "build bench: could not install buildah; its column is skipped" >&2
  else
    echo "build bench: buildah missing and not root; its column is skipped" >&2
  fi
fi
scripts/peers.sh start >&2
cargo build --release -q -p hoist
hoist=$PWD/target/release/hoist
busybox=$(command -v busybox)
work=$(mktemp -d)
tools=(hoist buildkit legacy buildah)
declare -A on=([hoist]=1 [buildkit]=0 [legacy]=0 [buildah]=0) why=()
docker=docker
buildah=(buildah --root "$work/buildah/root" --runroot "$work/buildah/run" --storage-driver overlay)
docker_before=""
have_docker=0

# Image IDs each store holds now, one a line, sorted.
docker_ids() { "$docker" images -aq --no-trunc | sort -u; }
buildah_ids() { "${buildah[@]}" images -aq --no-trunc 2>/dev/null | sort -u; }
# drop_new LIST-FILE LISTER REMOVER...: removes every image LISTER shows that is not in LIST-FILE; a few
# passes, since a parent goes only after its children.
drop_new() {
  local keep=$1 lister=$2; shift 2
  local new
  for _ in 1 2 3 4 5; do
    new=$(comm -13 "$keep" <($lister))
    [[ -z $new ]] && return 0
    # shellcheck disable=SC2086
    "$@" $new >/dev/null 2>&1 || true
  done
}

cleanup() {
  set +e
  if ((have_docker)); then
    docker_before_file=$work/docker-before.ids
    printf '%s\n' "$docker_before" | sed '/^$/d' | sort -u >"$docker_before_file"
    drop_new "$docker_before_file" docker_ids "$docker" rmi -f
    "$docker" builder prune -af >/dev/null 2>&1
  fi
  if command -v buildah >/dev/null && [[ -d $work/buildah ]]; then
    "${buildah[@]}" rm --all >/dev/null 2>&1
    "${buildah[@]}" rmi -af >/dev/null 2>&1
    "${buildah[@]}" umount --all >/dev/null 2>&1
  fi
  # Anything still mounted under the work directory (buildah's overlay store) goes before the files.
  awk -v w="$work" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  # hoist's images and build cache live in $work (HOIST_ROOT).
  rm -rf "$work"
  scripts/peers.sh stop >&2
}
trap cleanup EXIT
echo '{}' >"$work/daemon.json"
export HOIST_CONFIG=$work/daemon.json HOIST_ROOT=$work/root
if docker version >/dev/null 2>&1; then
  have_docker=1
  docker_before=$(docker images -aq --no-trunc)
fi

# The base: the host's static busybox with the applets the Dockerfiles call.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp "$busybox" "$work/rootfs/bin/busybox"
for applet in sh true dd rm mkdir cat ls echo; do ln -s busybox "$work/rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
base=bench-busybox:1
path_env='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
"$hoist" import -c 'CMD ["/bin/sh"]' -c "ENV $path_env" "$work/busybox.tar" "$base" >/dev/null
if ((have_docker)); then
  docker import -c 'CMD ["/bin/sh"]' -c "ENV $path_env" "$work/busybox.tar" "$base" >/dev/null
  on[legacy]=1 on[buildkit]=1
else
  why[buildkit]="no Docker Engine" why[legacy]="no Docker Engine"
fi
if command -v buildah >/dev/null; then
  mkdir -p "$work/buildah"
  if ctr=$("${buildah[@]}" from scratch 2>"$work/buildah-base.log") &&
    "${buildah[@]}" add "$ctr" "$work/busybox.tar" / >/dev/null 2>>"$work/buildah-base.log" &&
    "${buildah[@]}" config --cmd /bin/sh --env "$path_env" "$ctr" 2>>"$work/buildah-base.log" &&
    "${buildah[@]}" commit -q "$ctr" "$base" >/dev/null 2>>"$work/buildah-base.log" &&
    "${buildah[@]}" rm "$ctr" >/dev/null 2>>"$work/buildah-base.log"; then
    on[buildah]=1
  else
    why[buildah]="buildah cannot make the base image here"
    echo "build bench: ${why[buildah]}; its column is skipped:" >&2
    tail -5 "$work/buildah-base.log" >&2
  fi
else
  why[buildah]="buildah not installed"
fi

# The multi-stage context.
ms=$work/multistage
mkdir -p "$ms/conf"
printf 'alpha\n' >"$ms/a.txt"
printf 'bravo\n' >"$ms/b.txt"
printf 'one=1\n' >"$ms/conf/one.conf"
printf 'two=2\n' >"$ms/conf/two.conf"
cat >"$ms/Dockerfile" <<'EOF'
FROM bench-busybox:1 AS builder
WORKDIR /src
COPY a.txt b.txt ./
COPY conf/ ./conf/
RUN mkdir -p /out/small && i=0 && while [ $i -lt 200 ]; do echo "file $i" > /out/small/f$i; i=$((i+1)); done && dd if=/dev/urandom of=/out/big bs=1048576 count=5 2>/dev/null && cat a.txt b.txt conf/one.conf conf/two.conf > /out/inputs

FROM bench-busybox:1
COPY --from=builder /out /app
CMD ["/bin/sh", "-c", "cat /app/inputs"]
EOF
# The 50,000-file context (its Dockerfile beside it, so the context is the files alone).
files=$work/files
echo "build bench: writing the 50,000-file context" >&2
for i in $(seq 0 49); do
  for j in $(seq 0 9); do
    d=$files/d$i/e$j
    mkdir -p "$d"
    for k in $(seq 0 99); do printf 'file %d %d %d\n' "$i" "$j" "$k" >"$d/f$k"; done
  done
done
printf 'FROM bench-busybox:1\nCOPY . /data\n' >"$work/files.Dockerfile"
tar -C "$files" -cf - . | cat >/dev/null # into the page cache for everyone

# build_cmd TOOL DOCKERFILE CONTEXT: the build command line, in cmd.
build_cmd() {
  case $1 in
    hoist) cmd=("$hoist" build --network none -q -t bench-build:1 -f "$2" "$3") ;;
    buildkit) cmd=(env DOCKER_BUILDKIT=1 "$docker" build --network none -q -t bench-build:1 -f "$2" "$3") ;;
    legacy) cmd=(env DOCKER_BUILDKIT=0 "$docker" build --network none --force-rm -q -t bench-build:1 -f "$2" "$3") ;;
    buildah) cmd=("${buildah[@]}" bud --layers --network none -q -t bench-build:1 -f "$2" "$3") ;;
  esac
}
# build TOOL DOCKERFILE CONTEXT [TIMES-FILE]: one build, output in $work/TOOL.log; with TIMES-FILE, appends
# "milliseconds peak_rss_kb" to it. Fails as the build does.
build() {
  local tool=$1 times=${4:-} s e
  build_cmd "$1" "$2" "$3"
  s=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/rss" "${cmd[@]}" >"$work/$tool.log" 2>&1 || return 1
  e=$(date +%s%N)
  [[ -n $times ]] && echo "$(((e - s) / 1000)) $(tail -1 "$work/rss")" | awk '{printf "%.1f %s\n", $1 / 1000, $2}' >>"$times"
  return 0
}
# make_cold TOOL: back to the cold state: images built since the baseline removed by ID, build cache pruned.
make_cold() {
  case $1 in
    hoist)
      "$hoist" images -aq --no-trunc | { grep -vxF "$hoist_base" || true; } | xargs -r "$hoist" rmi -f >/dev/null
      "$hoist" builder prune -af >/dev/null
      ;;
    buildkit | legacy)
      drop_new "$work/docker.ids" docker_ids "$docker" rmi -f
      # (a client without buildx warns on stderr here, yet prunes the engine's BuildKit cache)
      "$docker" builder prune -af >/dev/null 2>&1
      ;;
    buildah)
      "${buildah[@]}" rm --all >/dev/null 2>&1 || true
      drop_new "$work/buildah.ids" buildah_ids "${buildah[@]}" rmi -f
      ;;
  esac
  sync
}
# skip TOOL REASON: drops a peer's column, with its last output.
skip() {
  on[$1]=0 why[$1]=$2
  echo "build bench: $1: $2; its column is skipped. Its last output:" >&2
  tail -15 "$work/$1.log" >&2 || true
  make_cold "$1" >/dev/null 2>&1 || true
}

hoist_base=$("$hoist" images -q --no-trunc "$base")
((have_docker)) && docker_ids >"$work/docker.ids"
((on[buildah])) && buildah_ids >"$work/buildah.ids"

# Warm-up: one untimed build each (it also unpacks the base where a tool defers that), then back to cold.
# It is the probe too: BuildKit through the `docker` on PATH, else through Debian's client (docker.io's
# /usr/bin/docker talks to the engine's built-in BuildKit without buildx); the legacy builder and
# BuildKit then share that client.
build hoist "$ms/Dockerfile" "$ms" || {
  echo "build bench: hoist build failed:" >&2
  cat "$work/hoist.log" >&2
  exit 1
}
make_cold hoist
if ((on[buildkit])); then
  if ! build buildkit "$ms/Dockerfile" "$ms"; then
    make_cold buildkit
    buildx=$(docker buildx version 2>&1 | head -1) || true
    echo "build bench: DOCKER_BUILDKIT=1 $(command -v docker) build failed (docker buildx version: $buildx):" >&2
    tail -5 "$work/buildkit.log" >&2
    if [[ -x /usr/bin/docker && $(command -v docker) != /usr/bin/docker ]] &&
      dpkg -S /usr/bin/docker 2>/dev/null | grep -q '^docker.io:'; then
      echo "build bench: trying Debian's client, /usr/bin/docker, for both docker columns" >&2
      docker=/usr/bin/docker
      if ! build buildkit "$ms/Dockerfile" "$ms"; then
        docker=docker
        skip buildkit "BuildKit is not reachable from any docker client here"
      fi
    else
      skip buildkit "BuildKit is not reachable (no buildx, and no client with built-in BuildKit)"
    fi
  fi
  make_cold buildkit
fi
for tool in legacy buildah; do
  if ((on[$tool])); then
    if build "$tool" "$ms/Dockerfile" "$ms"; then make_cold "$tool"; else skip "$tool" "its build fails here"; fi
  fi
done

rm -f "$work"/*.times
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  for tool in "${tools[@]}"; do
    ((on[$tool])) || continue
    printf 'alpha\n' >"$ms/a.txt"
    ok=1
    build "$tool" "$ms/Dockerfile" "$ms" "$work/$tool-cold.times" || ok=0
    for _ in $(seq 1 "$CACHED_REPS"); do
      ((ok)) || break
      build "$tool" "$ms/Dockerfile" "$ms" "$work/$tool-cached.times" || ok=0
    done
    printf 'alpha, changed in run %s\n' "$run" >"$ms/a.txt"
    ((ok)) && { build "$tool" "$ms/Dockerfile" "$ms" "$work/$tool-change.times" || ok=0; }
    printf 'alpha\n' >"$ms/a.txt"
    ((ok)) && { make_cold "$tool"; build "$tool" "$work/files.Dockerfile" "$files" "$work/$tool-files.times" || ok=0; }
    if ((!ok)); then
      [[ $tool == hoist ]] && { echo "build bench: hoist build failed:" >&2; cat "$work/hoist.log" >&2; exit 1; }
      skip "$tool" "a build failed in run $run"
      continue
    fi
    make_cold "$tool"
  done
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
# The samples behind the medians, on stderr (milliseconds, in run order).
for tool in "${tools[@]}"; do
  for op in cold cached change files; do
    [[ -s $work/$tool-$op.times ]] && echo "samples $tool $op: $(awk '{print $1}' "$work/$tool-$op.times" | paste -sd' ') ms" >&2
  done
done
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# med TOOL OP: the median milliseconds of TOOL's OP builds, empty when there are none (or the column is off).
med() { if ((on[$1])) && [[ -s $work/$1-$2.times ]]; then awk '{print $1}' "$work/$1-$2.times" | median; fi; }
peak() { if ((on[$1])) && [[ -s $work/$1-$2.times ]]; then awk '{print $2}' "$work/$1-$2.times" | sort -n | tail -1; fi; }
fmt_ms() { [[ -n $1 ]] && awk -v v="$1" 'BEGIN {if (v >= 1000) printf "%.2f s", v / 1000; else if (v >= 100) printf "%.0f ms", v; else printf "%.1f ms", v}' || echo n/a; }
fmt_mib() { [[ -n $1 ]] && awk -v v="$1" 'BEGIN {printf "%.1f MiB", v / 1024}' || echo "-"; }
ratio() { [[ -n $1 && -n $2 ]] && awk -v h="$1" -v p="$2" 'BEGIN {printf ((h > 0) ? "%.1fx" : "n/a"), p / h}' || echo n/a; }
row() { # label op
  local h b l a
  h=$(med hoist "$2") b=$(med buildkit "$2") l=$(med legacy "$2") a=$(med buildah "$2")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt_ms "$h")" "$(fmt_ms "$b")" "$(fmt_ms "$l")" \
    "$(fmt_ms "$a")" "$(ratio "$h" "$b")" "$(ratio "$h" "$l")" "$(ratio "$h" "$a")"
}
engine=$( ((have_docker)) && "$docker" version --format '{{.Server.Version}}' 2>/dev/null || echo -)
buildah_version=$(command -v buildah >/dev/null && buildah version 2>/dev/null | awk '/^Version:/ {print $2}' || echo -)
echo
echo "| operation | hoist | BuildKit (engine $engine) | legacy builder | buildah $buildah_version | BuildKit/hoist | legacy/hoist | buildah/hoist |"
echo "|---|---|---|---|---|---|---|---|"
row "cold multi-stage build" cold
row "fully cached rebuild" cached
row "one-file change, rebuild" change
row "cold build, 50,000-file context" files
rss_row() { # label op
  local h a
  h=$(peak hoist "$2") a=$(peak buildah "$2")
  printf '| %s | %s | - | - | %s | | | %s |\n' "$1" "$(fmt_mib "$h")" "$(fmt_mib "$a")" "$(ratio "$h" "$a")"
}
rss_row "peak RSS, cold multi-stage" cold
rss_row "peak RSS, cold 50,000-file context" files
echo
for tool in buildkit legacy buildah; do
  ((on[$tool])) || echo "$tool: skipped (${why[$tool]:-not available})"
done
cached=$(med hoist cached)
echo "hoist fully cached rebuild under 50 ms: $(awk -v v="$cached" 'BEGIN {print (v < 50 ? "met" : "not met")}') ($(fmt_ms "$cached"))"
echo "Medians over RUNS=$RUNS ($((RUNS * CACHED_REPS)) cached rebuilds); peak RSS is the largest over the runs (docker's is the engine's, not the CLI's, so none is shown). Docker client: $docker ($("$docker" version --format '{{.Client.Version}}' 2>/dev/null || echo -)); load average $load_start at the start, $load_end at the end ($(nproc) cores). Storage: hoist $("$hoist" info --format '{{.Driver}}' 2>/dev/null || echo '?'), docker $( ((have_docker)) && "$docker" info --format '{{.Driver}}' 2>/dev/null || echo -), buildah $( ((on[buildah])) && "${buildah[@]}" info --format '{{.store.GraphDriverName}}' 2>/dev/null || echo -)."
