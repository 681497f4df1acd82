#!/usr/bin/env bash
# Issue 11.2's mixed load against the real `rollcall serve`, in one run: 200 pages/s,
# 1,500 ingested events/s (batches of 100), 10 gettoken/s and 5 get_info/s of a
# 100,000-session meeting, open-loop, with the bare axum ceiling (page 1's bytes, a process
# of its own) loaded at the pages' rate in the same run as the machine's own floor for a
# request's latency; then the same without get_info, and get_info's own
# cost on a 1,000- and a 100,000-session store (5/s alone): with the default stream (whose
# people grow with the sessions) and with PEOPLE people in both (only the sessions differ).
#
#   crates/rollcall-bench/mixed.sh          # from the workspace root; needs curl
#
# Settings (environment): SESSIONS=100000 SMALL=1000 DURATION=600 (seconds per mixed run)
# INFO_DURATION=30 PEOPLE=300 WORK=<dir> (reuse prepared stores: WORK/big, WORK/small,
# WORK/big-fixed, WORK/small-fixed) RPORT=18081 CPORT=18091
# BIN=target/release ROLLCALL=$BIN/rollcall SKIP_BUILD=1.
set -euo pipefail

SESSIONS=${SESSIONS:-100000}
SMALL=${SMALL:-1000}
PEOPLE=${PEOPLE:-300}
DURATION=${DURATION:-600}
INFO_DURATION=${INFO_DURATION:-30}
RPORT=${RPORT:-18081}
CPORT=${CPORT:-18091}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release}
ROLLCALL=${ROLLCALL:-$BIN/rollcall}
export RUST_LOG=${RUST_LOG:-warn}

command -v curl >/dev/null || { echo "mixed.sh: needs curl" >&2; exit 2; }
if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$ROOT" && cargo build --release -p rollcall -p rollcall-bench)
fi
WORK=${WORK:-$(mktemp -d /tmp/rollcall-mixed.XXXXXX)}
prepare() { # dir sessions [prepare flags...]
  local dir=$1 n=$2; shift 2
  [ -d "$dir/data" ] || "$BIN/rollcall-bench" --sessions "$n" --deep-page 1 prepare --dir "$dir" "$@"
}
prepare "$WORK/big" "$SESSIONS"
prepare "$WORK/small" "$SMALL"
prepare "$WORK/big-fixed" "$SESSIONS" --people "$PEOPLE"
prepare "$WORK/small-fixed" "$SMALL" --people "$PEOPLE"

SERVE= CEIL=
cleanup() { [ -z "$SERVE" ] || kill "$SERVE" 2>/dev/null || true; wait "$SERVE" 2>/dev/null || true; SERVE=; }
stop_ceiling() { [ -z "$CEIL" ] || kill "$CEIL" 2>/dev/null || true; wait "$CEIL" 2>/dev/null || true; CEIL=; }
trap 'cleanup; stop_ceiling' EXIT
serve() { # dir
  cleanup
  # shellcheck disable=SC1091
  . "$1/app.env"
  "$ROLLCALL" serve --data "$1/data" --config "$1/rollcall.toml" --listen "127.0.0.1:$RPORT" \
    --ingest-key "$INGEST_KEY" --admin-key "$ADMIN_KEY" >"$1/serve.log" 2>&1 &
  SERVE=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$RPORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "mixed.sh: rollcall did not get ready:" >&2; cat "$1/serve.log" >&2; exit 1
}
ceiling() { # dir: the bare ceiling answering the served store's page 1, as bytes
  local base="http://127.0.0.1:$RPORT" token
  token=$(curl -sf "$base/cgi-bin/gettoken?corpid=$CORPID&corpsecret=$SECRET" \
    | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -sf -X POST -H 'Content-Type: application/json' --data-binary "@$1/first.json" \
    "$base/cgi-bin/meeting/get_attendee_list?access_token=$token" >"$1/first.out"
  stop_ceiling
  "$BIN/rollcall-bench" ceiling --body "$1/first.out" --listen "127.0.0.1:$CPORT" &
  CEIL=$!
  for _ in $(seq 100); do
    curl -sf -X POST "http://127.0.0.1:$CPORT/cgi-bin/meeting/get_attendee_list" -o /dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "mixed.sh: the ceiling did not answer" >&2; exit 1
}
mix() { # dir duration flags...
  local dir=$1 d=$2; shift 2
  "$BIN/rollcall-bench" --duration-secs "$d" mixed --dir "$dir" --url "http://127.0.0.1:$RPORT/" "$@"
}

echo "### get_info alone, 5/s for ${INFO_DURATION}s: $SMALL sessions, then $SESSIONS sessions"
for store in small big; do
  serve "$WORK/$store"
  echo; echo "$store store (load $(cut -d' ' -f1 /proc/loadavg)):"
  mix "$WORK/$store" "$INFO_DURATION" --pages 0 --events 0 --tokens 0 --infos 5
done

echo; echo "### get_info alone, 5/s for ${INFO_DURATION}s, $PEOPLE people: $SMALL sessions, then $SESSIONS"
for store in small-fixed big-fixed; do
  serve "$WORK/$store"
  echo; echo "$store store (load $(cut -d' ' -f1 /proc/loadavg)):"
  mix "$WORK/$store" "$INFO_DURATION" --pages 0 --events 0 --tokens 0 --infos 5
done

echo; echo "### the mix for ${DURATION}s, $SESSIONS-session meeting (load $(cut -d' ' -f1 /proc/loadavg))"
serve "$WORK/big"
ceiling "$WORK/big"
mix "$WORK/big" "$DURATION" --ceiling "http://127.0.0.1:$CPORT/"
echo; echo "### the same without get_info (load $(cut -d' ' -f1 /proc/loadavg))"
mix "$WORK/big" "$DURATION" --infos 0 --ceiling "http://127.0.0.1:$CPORT/"
echo; echo "(stores in $WORK; the mixed runs grew the big meeting by their ingested events)"
