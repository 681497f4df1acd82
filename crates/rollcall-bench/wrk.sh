#!/usr/bin/env bash
# The page path against the bare-HTTP ceiling, in one run, measured with Debian's `wrk`
# (SPEC §10: `wrk -t1 -c16` on loopback, 100-row pages of a 100,000-session meeting).
#
#   crates/rollcall-bench/wrk.sh            # from the workspace root; needs wrk, curl, jq
#
# 1. builds release `rollcall` and `rollcall-bench` (SKIP_BUILD=1 to skip);
# 2. `rollcall-bench prepare` builds the store through the HTTP APIs (or reuses WORK=DIR);
# 3. starts the real `rollcall serve` on it (rate limits lifted by the prepared config,
#    RUST_LOG=warn unless set) and the bare axum ceiling (`rollcall-bench ceiling`) serving
#    the exact bytes rollcall answers for page 1;
# 4. ROUNDS times, back to back: ceiling, page 1, deep page (each `wrk -t1 -c16 -d DURATION`);
# 5. prints one Markdown row per round (load average, req/s, p99, ratio to that round's
#    ceiling) and checks, from rollcall's /metrics, that every page answered errcode 0.
#
# Settings (environment): SESSIONS=100000 DEEP_PAGE=900 ROUNDS=3 DURATION=10s CONNS=16
# WORK=<dir> (reuse a prepared store) RPORT=18080 CPORT=18090 BIN=target/release
# ROLLCALL=$BIN/rollcall DATABASE=<postgres URL> (measure the PostgreSQL store instead).
set -euo pipefail

SESSIONS=${SESSIONS:-100000}
DEEP_PAGE=${DEEP_PAGE:-900}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
RPORT=${RPORT:-18080}
CPORT=${CPORT:-18090}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release}
# The server measured: another build of `rollcall` (say, the previous commit's) with ROLLCALL=.
ROLLCALL=${ROLLCALL:-$BIN/rollcall}
export RUST_LOG=${RUST_LOG:-warn}

for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "wrk.sh: needs $tool (apt-get install -y $tool)" >&2; exit 2; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$ROOT" && cargo build --release -p rollcall -p rollcall-bench)
fi

WORK=${WORK:-$(mktemp -d /tmp/rollcall-wrk.XXXXXX)}
# DATABASE=postgres://… : the store is that PostgreSQL database (one of its own, e.g.
# `createdb -h 127.0.0.1 -U postgres rollcall_wrk`), prepared once per WORK directory.
STORE=(--data "$WORK/data")
if [ -n "${DATABASE:-}" ]; then STORE=(--database "$DATABASE"); fi
if [ ! -d "$WORK/data" ]; then
  "$BIN/rollcall-bench" --sessions "$SESSIONS" --deep-page "$DEEP_PAGE" \
    ${DATABASE:+--database "$DATABASE"} prepare --dir "$WORK"
fi
# shellcheck disable=SC1091
. "$WORK/app.env"

SERVE= CEIL=
cleanup() {
  for pid in $SERVE $CEIL; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

"$ROLLCALL" serve "${STORE[@]}" --config "$WORK/rollcall.toml" \
  --listen "127.0.0.1:$RPORT" >"$WORK/serve.log" 2>&1 &
SERVE=$!
BASE="http://127.0.0.1:$RPORT"
for _ in $(seq 100); do
  curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$BASE/readyz" >/dev/null || { echo "wrk.sh: rollcall did not get ready:" >&2; cat "$WORK/serve.log" >&2; exit 1; }

TOKEN=$(curl -sf "$BASE/cgi-bin/gettoken?corpid=$CORPID&corpsecret=$SECRET" | jq -er .access_token)
URL="$BASE/cgi-bin/meeting/get_attendee_list?access_token=$TOKEN"
page() { curl -sf -X POST -H 'Content-Type: application/json' --data-binary "@$1" "$2"; }
for req in first deep; do
  page "$WORK/$req.json" "$URL" >"$WORK/$req.out"
  jq -e '.errcode == 0 and (.attendees | length) == 100' "$WORK/$req.out" >/dev/null \
    || { echo "wrk.sh: $req page is not a full page: $(head -c 300 "$WORK/$req.out")" >&2; exit 1; }
done

"$BIN/rollcall-bench" ceiling --body "$WORK/first.out" --listen "127.0.0.1:$CPORT" &
CEIL=$!
CURL="http://127.0.0.1:$CPORT/cgi-bin/meeting/get_attendee_list?access_token=$TOKEN"
for _ in $(seq 100); do
  page "$WORK/first.json" "$CURL" >"$WORK/ceiling.out" 2>/dev/null && break
  sleep 0.1
done
cmp -s "$WORK/first.out" "$WORK/ceiling.out" || { echo "wrk.sh: the ceiling does not answer page 1's bytes" >&2; exit 1; }

for req in first deep; do
  cat >"$WORK/$req.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/$req.json", "rb")
wrk.body = f:read("*a")
f:close()
EOF
done

# "Requests/sec: N" and the 99% latency line of `wrk --latency`, p99 in ms.
run() { # url lua -> "req/s p99_ms"
  wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$2" "$1" >"$WORK/wrk.last" 2>&1
  awk '
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                  p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
    / Non-2xx or 3xx responses:/ { bad = $NF }
    END { if (bad) { print "wrk.sh: " bad " non-2xx answers" > "/dev/stderr"; exit 1 }
          printf "%.0f %.2f\n", rps, p99 }' "$WORK/wrk.last"
}

echo "| round | load (1 min) | ceiling req/s | page 1 req/s | page 1 ÷ ceiling | page 1 p99 ms | page $DEEP_PAGE req/s | page $DEEP_PAGE ÷ ceiling | page $DEEP_PAGE p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$ROUNDS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  c=$(run "$CURL" "$WORK/first.lua")
  f=$(run "$URL" "$WORK/first.lua")
  d=$(run "$URL" "$WORK/deep.lua")
  read -r c_rps _ <<<"$c"
  read -r f_rps f_p99 <<<"$f"
  read -r d_rps d_p99 <<<"$d"
  awk -v r="$r" -v l="$load" -v c="$c_rps" -v f="$f_rps" -v fp="$f_p99" -v d="$d_rps" -v dp="$d_p99" \
    'BEGIN { printf "| %d | %s | %d | %d | %.2f | %.2f | %d | %.2f | %.2f |\n", r, l, c, f, f / c, fp, d, d / c, dp }'
done

# Every page rollcall answered must have been errcode 0 (a 45009 or 50100 is a 200 too).
bad=$(curl -sf "$BASE/metrics" | awk '/^rollcall_http_requests_total\{/ && /get_attendee_list/ && !/errcode="0"/ { n += $NF } END { print n + 0 }')
ok=$(curl -sf "$BASE/metrics" | awk '/^rollcall_http_requests_total\{/ && /get_attendee_list/ && /errcode="0"/ { n += $NF } END { print n + 0 }')
echo
echo "rollcall answered $ok pages with errcode 0 and $bad with another errcode (store in $WORK)."
[ "$bad" = 0 ] || { echo "wrk.sh: some pages failed" >&2; exit 1; }
