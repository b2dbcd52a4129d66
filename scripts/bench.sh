#!/usr/bin/env bash
# Load benchmark (direct vs through the gateway); writes BENCHMARKS.md. Not part of `./x test`:
# numbers are measurements, not pass/fail tests. Bounded: 3 cases x 3 concurrencies x 2 x BENCH_SECONDS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchyard/target}"
cargo build --release -q -p switchyard-gateway -p mock-upstream --bins
BENCH_BIN="$CARGO_TARGET_DIR/release" exec python3 scripts/bench.py
