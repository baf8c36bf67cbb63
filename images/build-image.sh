#!/usr/bin/env bash
# Builds a bootable Raspberry Pi (arm64) SD-card image for one servicehall role, from
# Debian 12 (bookworm) with mmdebstrap, Debian's Pi kernel and firmware, and the
# cross-built servicehall program. Run as root on Debian 12 (x86_64 or arm64).
#
#   bash images/build-image.sh ROLE [STAGE]
#     ROLE   hub | kiosk | counter | display-board | all-in-one
#     STAGE  rootfs  the root file system only (directory), checked
#            image   the rootfs stage if not done yet, then the SD-card image (default)
#
# Options through the environment:
#   SERVICEHALL_BINARY         the arm64 program (default: the output of scripts/cross-build.sh)
#   SERVICEHALL_IMAGE_DIR      where to build (default: $HOME/.cache/servicehall/images)
#   SERVICEHALL_MIRROR         Debian mirror (default: http://deb.debian.org/debian)
#   SERVICEHALL_ROOT_PASSWORD_HASH  a crypt(3) hash for root's console login (default: locked)
#   SERVICEHALL_DATA_MIB       the data partition's first size; it grows to fill the card (512)
#
# Output: $SERVICEHALL_IMAGE_DIR/ROLE/rootfs/ (stage rootfs), ROLE/firmware/ (the boot
# partition's files), and ROLE/servicehall-ROLE-arm64.img (stage image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"

# ---------------------------------------------------------------- hooks (run by mmdebstrap)
# mmdebstrap calls this script back with the chroot as $2; the settings come through the
# environment exported below.

# Before the packages: the Pi firmware package writes cmdline.txt and config.txt from these
# (dpkg keeps them over the package's own defaults: force-confold below).
hook_essential() {
  local root=$1
  mkdir -p "$root/etc/default" "$root/boot/firmware"
  cat > "$root/etc/default/raspi-firmware" <<'EOF'
# servicehall: the root partition by label; the console on the serial port, not the screen.
ROOTPART=LABEL=SHROOT
CONSOLES="serial0,115200"
EOF
  # No text on the display, no blanking, no blinking cursor: the app owns the screen.
  echo "quiet loglevel=3 consoleblank=0 vt.global_cursor_default=0 logo.nologo" \
    > "$root/etc/default/raspi-extra-cmdline"
  printf '%s\n' '# servicehall: no rainbow splash at power-on.' 'disable_splash=1' \
    > "$root/etc/default/raspi-firmware-custom"
  # The initrd is made once, at the end (under qemu each run takes minutes): until then
  # update-initramfs is diverted to a no-op.
  chroot "$root" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs
  printf '#!/bin/sh\nexit 0\n' > "$root/usr/sbin/update-initramfs"
  chmod 0755 "$root/usr/sbin/update-initramfs"
}

# After the packages: the role's files, its user and units, the read-only root's needs.
hook_customize() {
  local root=$1 role=$SH_ROLE
  # The initrd, once; the Pi firmware's hook copies it to /boot/firmware with the kernel.
  rm -f "$root/usr/sbin/update-initramfs"
  chroot "$root" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
  chroot "$root" update-initramfs -c -k all

  # The role's files over the common ones; owned by root, modes as in the source tree.
  cp -r --preserve=mode,timestamps "$here/common/rootfs/." "$root/"
  cp -r --preserve=mode,timestamps "$here/roles/$role/rootfs/." "$root/"
  chown -R root:root "$root/etc/servicehall" "$root/etc/systemd" "$root/etc/udev/rules.d" \
    "$root/etc/sysusers.d" "$root/etc/sysctl.d" "$root/usr/local/sbin"
  # Without the debug line tables (290 MB -> 77 MB); symbols stay for panic backtraces.
  aarch64-linux-gnu-strip --strip-debug -o "$root/usr/bin/servicehall" "$SH_BINARY"
  chmod 0755 "$root/usr/bin/servicehall"
  install -D -m 0644 "$here/README.md" "$root/usr/share/doc/servicehall/images/README.md"

  # The servicehall user and the gpio group (sysusers.d), as the running system would.
  systemd-sysusers --root="$root"

  # Units: the role's service, the data partition's growth, network, names and time.
  local unit
  case $role in
    hub) unit=servicehall-hub.service ;;
    kiosk) unit=servicehall-kiosk.service ;;
    counter) unit=servicehall-counter.service ;;
    display-board) unit=servicehall-board.service ;;
    all-in-one) unit=servicehall.service ;;
  esac
  systemctl --root="$root" enable "$unit" servicehall-grow-data.service \
    systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
  # A read-only root: nothing that saves state in /var/lib at shutdown, no package updates.
  systemctl --root="$root" mask systemd-random-seed.service systemd-rfkill.service \
    systemd-rfkill.socket apt-daily.timer apt-daily-upgrade.timer ctrl-alt-del.target
  case $role in
    kiosk | counter | display-board)
      # The screen belongs to the app: no login prompt on it, no console switching.
      systemctl --root="$root" mask getty@tty1.service autovt@.service
      ;;
  esac

  # Names: the hub answers as servicehall-hub.local (multicast DNS) for the other boxes.
  local host="servicehall-$role"
  [ "$role" = all-in-one ] && host=servicehall-hub
  echo "$host" > "$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$host" \
    > "$root/etc/hosts"
  ln -sf /usr/share/zoneinfo/Asia/Shanghai "$root/etc/localtime"
  echo Asia/Shanghai > "$root/etc/timezone"
  ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
  # Each box gets its own machine id at boot (an empty file: systemd fills it in memory).
  : > "$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  # Mount points of the data partition and its bind mounts (see /etc/fstab).
  mkdir -p "$root/data" "$root/var/lib/servicehall" "$root/var/lib/systemd/timesync"
  # Without an RTC the clock starts no earlier than the image was built.
  touch "$root/usr/lib/clock-epoch"
  if [ -n "${SERVICEHALL_ROOT_PASSWORD_HASH:-}" ]; then
    chroot "$root" usermod -p "$SERVICEHALL_ROOT_PASSWORD_HASH" root
  else
    chroot "$root" passwd -l root >/dev/null
  fi
  echo "$role" > "$root/etc/servicehall/role"

  # Every shared library the program needs is in the image, and it runs there (qemu).
  local missing=0 lib
  for lib in $(aarch64-linux-gnu-readelf -d "$SH_BINARY" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    if ! ls "$root"/usr/lib/aarch64-linux-gnu/"$lib" "$root"/lib/aarch64-linux-gnu/"$lib" >/dev/null 2>&1; then
      echo "error: the image lacks $lib, which servicehall needs" >&2
      missing=1
    fi
  done
  [ $missing = 0 ]
  chroot "$root" /usr/bin/servicehall --version
  if [ -e "$root/etc/servicehall/hub.toml" ]; then
    chroot "$root" /usr/bin/servicehall check-config /etc/servicehall/hub.toml
  fi
}

case "${1:-}" in
  hook-essential) hook_essential "$2"; exit 0 ;;
  hook-customize) hook_customize "$2"; exit 0 ;;
esac

# ---------------------------------------------------------------- the build
role=${1:?usage: build-image.sh hub|kiosk|counter|display-board|all-in-one [rootfs|image]}
stage=${2:-image}
[ -d "$here/roles/$role" ] || { echo "error: no role $role in $here/roles" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "error: run as root (mmdebstrap's root mode, chroot)" >&2; exit 1; }
bash "$here/setup-cross.sh"

export SH_ROLE=$role
export SH_BINARY=${SERVICEHALL_BINARY:-$HOME/.cache/servicehall/target-arm64/aarch64-unknown-linux-gnu/release/servicehall}
[ -x "$SH_BINARY" ] || { echo "error: no arm64 program at $SH_BINARY: run scripts/cross-build.sh" >&2; exit 1; }
out=${SERVICEHALL_IMAGE_DIR:-$HOME/.cache/servicehall/images}/$role
mirror=${SERVICEHALL_MIRROR:-http://deb.debian.org/debian}
security=${SERVICEHALL_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# Foreign (arm64) maintainer scripts run through qemu-user, registered with binfmt_misc
# (the F flag: the kernel keeps the interpreter open, so it works inside the chroot).
if [ "$(dpkg --print-architecture)" != arm64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  echo "==> registering qemu-aarch64 with binfmt_misc"
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  /usr/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf
fi

packages() { # the common list and the role's, comments and blank lines dropped
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/common/packages" "$here/roles/$role/packages" | paste -sd, -
}

build_rootfs() {
  echo "==> rootfs: Debian bookworm arm64 for the $role role in $out/rootfs"
  rm -rf "$out/rootfs" "$out/firmware"
  mkdir -p "$out"
  local start
  start=$(date +%s)
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)} \
  mmdebstrap --mode=root --architectures=arm64 --variant=minbase \
    --include="$(packages)" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt=force-confold --dpkgopt=force-confdef \
    --essential-hook="\"$self\" hook-essential \"\$1\"" \
    --customize-hook="\"$self\" hook-customize \"\$1\"" \
    bookworm "$out/rootfs" \
    "deb $mirror bookworm main non-free-firmware" \
    "deb $mirror bookworm-updates main non-free-firmware" \
    "deb $security bookworm-security main non-free-firmware"
  # The boot partition's files (kernel, initrd, device trees, firmware, config.txt,
  # cmdline.txt) leave the root file system: /boot/firmware is only a mount point there.
  mkdir -p "$out/firmware"
  cp -r "$out/rootfs/boot/firmware/." "$out/firmware/"
  find "$out/rootfs/boot/firmware" -mindepth 1 -delete
  echo "==> rootfs done in $(( $(date +%s) - start )) s: $(du -sh "$out/rootfs" | cut -f1) root, $(du -sh "$out/firmware" | cut -f1) boot"
  echo "    cmdline.txt: $(cat "$out/firmware/cmdline.txt" 2>/dev/null || echo MISSING)"
}

build_image() {
  local start img=$out/servicehall-$role-arm64.img
  start=$(date +%s)
  echo "==> image: $img"
  local boot_mib=256 data_mib=${SERVICEHALL_DATA_MIB:-512} root_mib
  # The root: what is there, a quarter more and 256 MiB for updates of the program.
  root_mib=$(( $(du -sm "$out/rootfs" | cut -f1) * 5 / 4 + 256 ))
  rm -f "$out"/*.part "$img"
  mkfs.vfat -F 32 -n SHBOOT -C "$out/boot.part" $(( boot_mib * 1024 )) >/dev/null
  mcopy -s -i "$out/boot.part" "$out/firmware"/* ::
  mkfs.ext4 -q -L SHROOT -d "$out/rootfs" "$out/root.part" "${root_mib}M"
  local data_src
  data_src=$(mktemp -d)
  mkdir -p "$data_src/servicehall" "$data_src/timesync"
  mkfs.ext4 -q -L SHDATA -d "$data_src" "$out/data.part" "${data_mib}M"
  rm -rf "$data_src"
  # MBR (the Pi's boot ROM reads it on every model): boot (FAT32 LBA), root, data last
  # so that it can grow to the end of the card at first boot.
  local s1=8192 s2 s3 total
  s2=$(( s1 + boot_mib * 2048 ))
  s3=$(( s2 + root_mib * 2048 ))
  total=$(( s3 + data_mib * 2048 ))
  truncate -s $(( total * 512 )) "$img"
  sfdisk -q "$img" <<EOF
label: dos
start=$s1, size=$(( boot_mib * 2048 )), type=c, bootable
start=$s2, size=$(( root_mib * 2048 )), type=83
start=$s3, size=$(( data_mib * 2048 )), type=83
EOF
  dd if="$out/boot.part" of="$img" bs=512 seek=$s1 conv=notrunc,sparse status=none
  dd if="$out/root.part" of="$img" bs=512 seek=$s2 conv=notrunc,sparse status=none
  dd if="$out/data.part" of="$img" bs=512 seek=$s3 conv=notrunc,sparse status=none
  rm -f "$out"/*.part
  echo "==> image done in $(( $(date +%s) - start )) s: $(du -h --apparent-size "$img" | cut -f1) ($(du -h "$img" | cut -f1) on disk)"
  sfdisk -l "$img" | sed 's/^/    /'
  echo "    flash: xz -T0 -k $img, then see images/README.md"
}

case $stage in
  rootfs) build_rootfs ;;
  image)
    [ -f "$out/rootfs/etc/servicehall/role" ] || build_rootfs
    build_image
    ;;
  *) echo "error: stage is rootfs or image" >&2; exit 1 ;;
esac
