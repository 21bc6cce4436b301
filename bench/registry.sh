#!/usr/bin/env bash
# hoist registry serve vs Debian's docker-registry (distribution 2.8) on the same machine and data, in one
# run: manifest GET requests/s (wrk, 8 connections), blob GET throughput on a 64 MiB blob (with nginx
# serving the same file as the static baseline), and docker push/pull of the 8-layer 512 MiB image.
# Prints ratios. Needs root for apt-get (wrk, nginx-light) on a fresh machine. Both registries log errors
# only (distribution's access log off, hoist at -l error), as a production setup behind a proxy would.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
scripts/peers.sh install >&2
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v nginx >/dev/null || apt-get install -y -qq nginx-light >/dev/null
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
  rm -rf "$work"
  scripts/peers.sh stop >&2
}
trap cleanup EXIT
DIST=127.0.0.1:5101 HOISTREG=127.0.0.1:5102 NGINX=127.0.0.1:5103

cat >"$work/dist.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/dist}, delete: {enabled: true}}
http: {addr: $DIST}
YAML
docker-registry serve "$work/dist.yml" >"$work/dist.log" 2>&1 &
pids+=($!)
HOIST_ROOT=$work/hoist-root HOIST_CONFIG=$out/daemon.json REGISTRY_HTTP_ADDR=$HOISTREG "$hoist" -l error registry serve >"$work/hoist.log" 2>&1 &
pids+=($!)
for a in $DIST $HOISTREG; do
  for _ in $(seq 1 100); do curl -sf "http://$a/v2/" >/dev/null && break; sleep 0.1; done
done

docker load -q -i "$out/big.tar" >/dev/null
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN {printf "%.2f", e - s}'; }
declare -A push pull rps mbps
for a in $DIST $HOISTREG; do
  docker tag bench/big:1 "$a/bench/big:1"
  push[$a]=$(secs docker push "$a/bench/big:1")
done
# Pulls start with none of the layers present locally.
docker rmi bench/big:1 "$DIST/bench/big:1" "$HOISTREG/bench/big:1" >/dev/null
for a in $DIST $HOISTREG; do
  pull[$a]=$(secs docker pull "$a/bench/big:1")
  docker rmi "$a/bench/big:1" >/dev/null
done

accept='Accept: application/vnd.docker.distribution.manifest.v2+json'
layer=$(curl -sf -H "$accept" "http://$HOISTREG/v2/bench/big/manifests/1" | jq -r '.layers[0].digest')
mkdir -p "$work/static"
curl -sf "http://$HOISTREG/v2/bench/big/blobs/$layer" -o "$work/static/blob"
curl -sf -H "$accept" "http://$HOISTREG/v2/bench/big/manifests/1" -o "$work/static/manifest"
cat >"$work/nginx.conf" <<CONF
user root; daemon off; worker_processes 2; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; sendfile on; server { listen $NGINX; root $work/static; } }
CONF
nginx -c "$work/nginx.conf" &
pids+=($!)
sleep 0.5

wrk_field() { # url header field: Requests/sec or Transfer/sec (in MB/s)
  local r
  r=$(wrk -t2 -c"$3" -d"${DURATION}s" -H "$accept" "$1" 2>/dev/null)
  case $2 in
    rps) echo "$r" | awk '/Requests\/sec/ {printf "%.0f", $2}' ;;
    mbps) echo "$r" | awk '/Transfer\/sec/ {v=$2; if (v ~ /GB/) {sub(/GB/,"",v); v*=1024} else if (v ~ /MB/) {sub(/MB/,"",v)} else if (v ~ /KB/) {sub(/KB/,"",v); v/=1024}; printf "%.0f", v}' ;;
  esac
}
for a in $DIST $HOISTREG; do
  rps[$a]=$(wrk_field "http://$a/v2/bench/big/manifests/1" rps 8)
  mbps[$a]=$(wrk_field "http://$a/v2/bench/big/blobs/$layer" mbps 2)
done
nginx_mbps=$(wrk_field "http://$NGINX/blob" mbps 2)
nginx_rps=$(wrk_field "http://$NGINX/manifest" rps 8)
# Memory under load: 200 uploads of 8 MiB each at once (POST, then one streamed PUT), peak RSS of each
# server process before and after (VmHWM). Flat means the peak does not grow with the bytes in flight.
head -c $((8 << 20)) /dev/urandom >"$work/upload.bin"
upload_digest=sha256:$(sha256sum "$work/upload.bin" | cut -d' ' -f1)
peak_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
declare -A rss_before rss_after
upload_all() { # addr
  local i loc jobs=()
  for i in $(seq 1 200); do
    (
      loc=$(curl -sf -X POST -D - -o /dev/null "http://$1/v2/bench/up$i/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
      case $loc in http*) ;; *) loc="http://$1$loc" ;; esac
      case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
      curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$work/upload.bin" "$loc${sep}digest=$upload_digest" -o /dev/null
    ) &
    jobs+=($!)
  done
  wait "${jobs[@]}" # not a bare wait: the servers are children of this shell too
}
for i in 0 1; do
  a=$([[ $i == 0 ]] && echo $DIST || echo $HOISTREG)
  pid=${pids[$i]}
  rss_before[$a]=$(peak_mib "$pid")
  upload_all "$a"
  rss_after[$a]=$(peak_mib "$pid")
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf (b > 0 ? "%.1fx" : "n/a"), a / b}'; }
echo
echo "| measure | hoist | distribution 2.8 | hoist/distribution | nginx |"
echo "|---|---|---|---|---|"
echo "| manifest GET, 8 connections | ${rps[$HOISTREG]} req/s | ${rps[$DIST]} req/s | $(ratio "${rps[$HOISTREG]}" "${rps[$DIST]}") | ${nginx_rps} req/s (same bytes, static) |"
echo "| blob GET, 64 MiB, 2 connections | ${mbps[$HOISTREG]} MiB/s | ${mbps[$DIST]} MiB/s | $(ratio "${mbps[$HOISTREG]}" "${mbps[$DIST]}") | ${nginx_mbps} MiB/s (hoist/nginx $(ratio "${mbps[$HOISTREG]}" "$nginx_mbps")) |"
echo "| peak RSS, idle → after 200 concurrent 8 MiB uploads | ${rss_before[$HOISTREG]} → ${rss_after[$HOISTREG]} MiB | ${rss_before[$DIST]} → ${rss_after[$DIST]} MiB | | |"
echo "| docker push, 8 layers 512 MiB | ${push[$HOISTREG]} s | ${push[$DIST]} s | $(ratio "${push[$DIST]}" "${push[$HOISTREG]}") faster | |"
echo "| docker pull, same image | ${pull[$HOISTREG]} s | ${pull[$DIST]} s | $(ratio "${pull[$DIST]}" "${pull[$HOISTREG]}") faster | |"
echo
echo "wrk -t2 for ${DURATION}s per measure; nginx serves the same manifest and blob bytes as static files with sendfile."
