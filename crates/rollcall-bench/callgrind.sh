#!/usr/bin/env bash
# Instructions per page, under callgrind: stable on a shared machine where wall-clock figures
# move and `perf` gets no samples.
#
#   WORK=/tmp/rollcall-wrk.XXXX crates/rollcall-bench/callgrind.sh   # a store wrk.sh prepared
#
# Runs `rollcall serve` (release, ROLLCALL=target/release/rollcall) under
# `valgrind --tool=callgrind` on the prepared store, reads WARMUP pages, zeroes the counters,
# reads exactly N pages over one keep-alive connection (curl), dumps, and prints
# instructions per page and the top functions (callgrind_annotate, inclusive).
# Settings: N=1000 WARMUP=50 REQ=first|deep PORT=18070.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:?WORK=<dir prepared by wrk.sh or rollcall-bench prepare>}
ROLLCALL=${ROLLCALL:-$ROOT/target/release/rollcall}
N=${N:-1000}
WARMUP=${WARMUP:-50}
REQ=${REQ:-first}
PORT=${PORT:-18070}
BASE="http://127.0.0.1:$PORT"
export RUST_LOG=${RUST_LOG:-warn}
# shellcheck disable=SC1091
. "$WORK/app.env"

OUT="$WORK/callgrind.$REQ.$(basename "$ROLLCALL").out"
rm -f "$OUT"*
valgrind --tool=callgrind --callgrind-out-file="$OUT" \
  "$ROLLCALL" serve --data "$WORK/data" --config "$WORK/rollcall.toml" \
  --listen "127.0.0.1:$PORT" >"$WORK/callgrind.log" 2>&1 &
VG=$!
trap 'kill "$VG" 2>/dev/null || true; wait "$VG" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
TOKEN=$(curl -sf "$BASE/cgi-bin/gettoken?corpid=$CORPID&corpsecret=$SECRET" | jq -er .access_token)
URL="$BASE/cgi-bin/meeting/get_attendee_list?access_token=$TOKEN"
pages() { # n: that many pages over one connection; each must be errcode 0
  local cfg="$WORK/curl.cfg"
  : >"$cfg"
  for _ in $(seq "$1"); do echo "url = \"$URL\"" >>"$cfg"; done
  curl -s -K "$cfg" -H 'Content-Type: application/json' --data-binary "@$WORK/$REQ.json" \
    -o /dev/null -w '%{header_json}\n' | jq -r '.["error-code"][0]' | sort | uniq -c
}
pages "$WARMUP" >/dev/null
callgrind_control -z "$VG" >/dev/null
echo "errcodes of the $N measured pages (count errcode):"
pages "$N"
callgrind_control -d "$VG" >/dev/null
sleep 1
DUMP=$(ls -t "$OUT"* | head -1)
total=$(callgrind_annotate "$DUMP" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
echo "instructions per page ($REQ, $(basename "$ROLLCALL")): $((total / N))"
callgrind_annotate --inclusive=yes "$DUMP" 2>/dev/null | sed -n '/Ir/,$p' | head -60
