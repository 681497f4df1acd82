#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer, AddressSanitizer) of every parser that reads
# untrusted bytes, each for a bounded time. Usage: .ci/fuzz.sh [seconds per target, default 20].
#
# The machine has only a stable toolchain; cargo-fuzz needs `-Z` flags (the sanitizer and
# coverage instrumentation), so RUSTC_BOOTSTRAP=1 lets stable rustc accept them. It builds in
# fuzz/target, apart from the main workspace's.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-20}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in $(cargo fuzz list); do
  echo "== fuzz $target (${secs}s)"
  # New inputs go to a scratch corpus; the checked-in seeds stay as they are.
  scratch="$(mktemp -d)"
  set +e
  cargo fuzz run -O "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 >"$scratch.log" 2>&1
  status=$?
  set -e
  grep -E "^Done|ERROR|SUMMARY|panicked" "$scratch.log" || true
  [ "$status" -eq 0 ] || tail -40 "$scratch.log"
  rm -rf "$scratch" "$scratch.log"
  if [ "$status" -ne 0 ]; then
    echo "== fuzz $target FAILED (exit $status): see fuzz/artifacts/$target"
    exit 1
  fi
done
