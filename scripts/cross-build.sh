#!/usr/bin/env bash
# Cross-builds the appliance binary for the Raspberry Pi (arm64) in release mode:
# `servicehall` with the linuxkms backend for the three Slint apps (no X, no desktop)
# and the Pi's GPIO for the kiosk's take-ticket button.
#
#   bash scripts/cross-build.sh            # installs what is missing, then builds
#
# The arm64 build keeps its own cache ($HOME/.cache/servicehall/target-arm64, or
# SERVICEHALL_ARM64_TARGET_DIR) so the x86 cache is never rebuilt. It prints the path
# of the binary on its last line; images/build-image.sh and scripts/smoke-arm64.sh use it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash images/setup-cross.sh
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

target=aarch64-unknown-linux-gnu
export CARGO_TARGET_DIR="${SERVICEHALL_ARM64_TARGET_DIR:-$HOME/.cache/servicehall/target-arm64}"
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Debian's cross compiler links; the bundled SQLite and other C parts compile with it.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# pkg-config finds the arm64 libraries that multiarch installed, never the host's.
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR_aarch64_unknown_linux_gnu=/

features="${SERVICEHALL_ARM64_FEATURES:-kiosk/kms,counter/kms,display-board/kms,kiosk/rpi}"
echo "==> cargo build --release --target $target -p servicehall --features $features"
start=$(date +%s)
cargo build --release --locked --target "$target" -p servicehall --bin servicehall --features "$features"
bin="$CARGO_TARGET_DIR/$target/release/servicehall"
echo "==> built in $(( $(date +%s) - start )) s: $(du -h "$bin" | cut -f1), $(file -b "$bin" | cut -d, -f1-2)"
echo "$bin"
