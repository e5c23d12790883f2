#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 30), one after the other, on the
# stable toolchain: `cargo fuzz` with `-s none` (no sanitizer, so no nightly-only flags).
# Seeds come from corpus/<target>/ (read-only); new inputs go to work/<target>/ (ignored by
# git); crashes to artifacts/<target>/. Exits non-zero when a target found a crash.
#   bash fuzz/run.sh 60            # all targets, 60 s each
#   bash fuzz/run.sh 60 command    # some targets only
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none >/dev/null 2>&1 || cargo fuzz build -s none || exit 1
failed=()
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "corpus/$t"
  echo "== $t (${secs}s)"
  # -max_total_time bounds the run; timeout is the backstop should a run hang.
  timeout --kill-after=10 "$((secs + 60))" \
    cargo fuzz run -s none "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=4096 -print_final_stats=1 \
      >"work/$t.log" 2>&1
  rc=$?
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec)|^Done " "work/$t.log" | tr '\n' ' '
  echo
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "!! $t failed (rc=$rc); see fuzz/work/$t.log and fuzz/artifacts/$t/"
    grep -E "panicked|ERROR|SUMMARY" "work/$t.log" | head -5
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]}"
  exit 1
fi
echo "all ${#targets[@]} targets ran ${secs}s each without a crash"
