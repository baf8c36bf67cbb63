#!/usr/bin/env bash
# Checks every systemd unit of the appliance images (images/**/*.service) with
# `systemd-analyze verify`, in a scratch root that holds the units, the files they name
# and a stand-in for /usr/bin/servicehall, so the check needs no build and no image.
# Then prints each service's exposure score (`systemd-analyze security --offline`).
#
#   bash scripts/verify-units.sh        # exit status 0 when every unit is clean
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-analyze >/dev/null || { echo "error: systemd-analyze is missing (apt-get install systemd)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# The host's own units (targets, getty, udev) so dependencies resolve; then the images'.
mkdir -p "$root/usr/lib" "$root/usr/bin" "$root/usr/sbin" "$root/bin" "$root/etc"
cp -a /usr/lib/systemd "$root/usr/lib/"
cp -a images/common/rootfs/. "$root/"
units=()
for role in images/roles/*/; do
  cp -a "$role/rootfs/." "$root/"
done
while IFS= read -r u; do units+=("$u"); done < <(cd "$root" && find etc/systemd/system -maxdepth 1 -name '*.service' | sort)
printf '#!/bin/sh\nexit 0\n' > "$root/usr/bin/servicehall"
for t in sh install growpart; do printf '#!/bin/sh\nexit 0\n' > "$root/usr/bin/$t"; done
ln -sf ../usr/bin/sh "$root/bin/sh"
chmod +x "$root"/usr/bin/*

status=0
for u in "${units[@]}"; do
  out=$(systemd-analyze verify --man=no --generators=no --root="$root" "$root/$u" 2>&1) || status=1
  # verify prints nothing for a clean unit; anything it prints is a finding.
  if [ -n "$out" ]; then
    echo "FAIL $(basename "$u")"; echo "$out" | sed 's/^/     /'; status=1
  else
    echo "ok   $(basename "$u")"
  fi
done
echo "==> exposure (systemd-analyze security --offline; lower is safer, 10 is unprotected)"
for u in "${units[@]}"; do
  score=$(systemd-analyze security --offline=yes --root="$root" "$root/$u" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')
  printf '     %-34s %s\n' "$(basename "$u")" "${score:-?}"
done
exit $status
