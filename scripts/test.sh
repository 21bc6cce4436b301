#!/usr/bin/env bash
# The whole test suite: installs and starts the real peers (Docker Engine, skopeo, ...) for the interop
# tests, runs every test in the workspace, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/peers.sh install
scripts/peers.sh start
trap 'scripts/peers.sh stop' EXIT
cargo test --workspace --all-targets --no-fail-fast "$@"
