#!/usr/bin/env bash
# Installs what cross-building servicehall for arm64 and building the appliance images
# need on Debian 12 x86_64 (run as root). Idempotent and quiet when all is there.
#
#   cross-building  gcc-aarch64-linux-gnu and, through multiarch, the arm64 -dev packages
#                   the apps link: fontconfig and ALSA (Slint, sound), libinput,
#                   xkbcommon, udev, gbm, drm (Slint's linuxkms backend, feature `kms`);
#                   the Rust target aarch64-unknown-linux-gnu (rustup)
#   smoke test      qemu-user-static (runs the arm64 binary here, no binfmt needed)
#   unit checks     systemd (systemd-analyze verify)
#   image recipe    mmdebstrap and its helpers, arch-test, dosfstools, mtools, e2fsprogs,
#                   fdisk (partition table), xz-utils, debian-archive-keyring
set -euo pipefail

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "==> adding the arm64 architecture (multiarch)"
  dpkg --add-architecture arm64
  apt_updated=
fi
packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkg-config
  libfontconfig1-dev:arm64 libasound2-dev:arm64 libinput-dev:arm64 libxkbcommon-dev:arm64
  libudev-dev:arm64 libgbm-dev:arm64 libdrm-dev:arm64
  qemu-user-static systemd
  mmdebstrap arch-test uidmap fakeroot dosfstools mtools e2fsprogs fdisk xz-utils
  debian-archive-keyring curl ca-certificates)
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

if ! command -v rustup >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/rustup" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu
else
  echo "error: rustup is needed to add the aarch64-unknown-linux-gnu target (run scripts/setup-deps.sh)" >&2
  exit 1
fi
