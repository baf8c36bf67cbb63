#!/usr/bin/env bash
# Smoke test of the cross-built appliance program: the arm64 `servicehall hub` runs under
# qemu-user on this (x86_64) machine with the appliance's hub configuration, answers its
# health endpoint, refuses to pick a business date from an unsynchronised clock, opens
# the day when a supervisor names the date, and issues a ticket.
#
#   bash scripts/cross-build.sh && bash scripts/smoke-arm64.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${SERVICEHALL_BINARY:-$HOME/.cache/servicehall/target-arm64/aarch64-unknown-linux-gnu/release/servicehall}}
[ -x "$bin" ] || { echo "error: no arm64 program at $bin (run scripts/cross-build.sh)" >&2; exit 1; }
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$qemu" ] || { echo "error: qemu-user is missing (bash images/setup-cross.sh)" >&2; exit 1; }
# The arm64 loader, C library and the program's shared libraries come from multiarch
# (libc6:arm64 and the libraries images/setup-cross.sh installs, in /usr/lib/aarch64-linux-gnu).
[ -e /lib/ld-linux-aarch64.so.1 ] || export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu

fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d)
hub_pid=
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

echo "==> $(file -b "$bin" | cut -d, -f1-2)"
echo "==> $("$qemu" "$bin" --version)"
"$qemu" "$bin" check-config images/roles/hub/rootfs/etc/servicehall/hub.toml
# A free port, then the hub as the appliance starts it (its unit's command line).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s.%N)
"$qemu" "$bin" hub --data-dir "$dir/data" --listen "127.0.0.1:$port" \
  --config images/roles/hub/rootfs/etc/servicehall/hub.toml > "$dir/hub.out" 2> "$dir/hub.err" &
hub_pid=$!
H="http://127.0.0.1:$port/api/v1"
for _ in $(seq 1 300); do
  curl -fsS "$H/health" -o "$dir/health.json" 2>/dev/null && break
  kill -0 "$hub_pid" 2>/dev/null || { cat "$dir/hub.err" >&2; fail "the hub stopped"; }
  sleep 0.1
done
printf '==> hub answered after %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"
echo "    GET /health -> $(cat "$dir/health.json")"
grep -q '"status":"ok"' "$dir/health.json" || fail "health is not ok"

# Without a synchronised clock (no timesync flag, clock_trusted = false) no day is open
# and the hub will not choose today's date by itself.
pw=$(cat "$dir/data/initial-admin-password")
token=$(curl -fsS -X POST "$H/sessions" -d "{\"staff_id\":\"admin\",\"secret\":\"$pw\",\"counter\":1}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
code=$(curl -sS -o "$dir/open.json" -w '%{http_code}' -X POST "$H/day/open" -H "Authorization: Bearer $token")
echo "    POST /day/open (no date, clock not synchronised) -> $code $(cat "$dir/open.json")"
if grep -q '"clock_synced":false' "$dir/health.json"; then
  [ "$code" != 200 ] || fail "an unsynchronised hub picked a business date by itself"
fi
today=$(TZ=Asia/Shanghai date +%F)
curl -fsS -X POST "$H/day/open" -H "Authorization: Bearer $token" -d "{\"date\":\"$today\"}" -o "$dir/open.json" \
  || fail "the supervisor could not open the day"
echo "    POST /day/open {\"date\":\"$today\"} -> $(cat "$dir/open.json")"
curl -fsS -X POST "$H/tickets" -d '{"service":"repair","device":"smoke-arm64"}' -o "$dir/ticket.json" \
  || fail "no ticket was issued"
echo "    POST /tickets {\"service\":\"repair\"} -> $(cat "$dir/ticket.json")"
grep -q '"number":"D001"' "$dir/ticket.json" || fail "the first repair ticket is not D001"
kill "$hub_pid"; wait "$hub_pid" 2>/dev/null || true; hub_pid=

# As systemd starts it (Type=notify, WatchdogSec=2 here): READY=1 once it serves, then
# WATCHDOG=1 pings while its health endpoint answers.
python3 - "$dir/notify.sock" "$dir/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(30)
with open(sys.argv[2], "w") as log:
    pings, end = 0, time.time() + 30
    while pings < 2 and time.time() < end:
        msg = s.recv(4096).decode(); log.write(msg.replace("\n", " ").strip() + "\n"); log.flush()
        pings += msg.startswith("WATCHDOG=1")
PY
listener=$!
for _ in $(seq 1 50); do [ -S "$dir/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$dir/notify.sock" WATCHDOG_USEC=2000000 "$qemu" "$bin" hub --data-dir "$dir/data" \
  --listen "127.0.0.1:$port" --config images/roles/hub/rootfs/etc/servicehall/hub.toml \
  > "$dir/hub2.out" 2> "$dir/hub2.err" &
hub_pid=$!
wait "$listener" || true
echo "    systemd notifications received: $(paste -sd'|' "$dir/notify.log")"
grep -q '^READY=1' "$dir/notify.log" || fail "no READY=1 from the hub"
[ "$(grep -c '^WATCHDOG=1' "$dir/notify.log")" -ge 2 ] || fail "no watchdog pings from the hub"
printf '==> PASS: the arm64 hub under qemu served health, the day and ticket D001, and spoke sd_notify (%.1f s)\n' \
  "$(echo "$(date +%s.%N) - $start" | bc)"
