#!/usr/bin/env bash
# Builds servicehall and runs the whole installation on this machine: the hub with its
# embedded SQLite database (and, as they land, the kiosk, counter, display board and the
# simulated printer and payment terminal). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicehall/target}"
echo "==> building (release)"
cargo build --release --locked --bin servicehall
exec "$CARGO_TARGET_DIR/release/servicehall" "$@"
