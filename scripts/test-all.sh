#!/usr/bin/env bash
# Runs every servicehall check: formatting, lints and the whole test suite, after
# installing whatever is missing. `.ci/run` calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-deps.sh
# A build cache outside the clone keeps repeated runs fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/servicehall/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> licences (every dependency GPL-3.0-compatible)"
cargo deny --log-level error check licenses
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
echo "==> the Raspberry Pi GPIO backend, built for real (off a Pi it must refuse clearly)"
cargo test --locked -p servicehall-hardware --features rpi --lib gpio::
echo "==> appliance units (systemd-analyze verify)"
bash scripts/verify-units.sh
