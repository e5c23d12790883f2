#!/usr/bin/env bash
# Runs fuzz targets for SECONDS seconds each (default 30), one after the other: `cargo fuzz`
# with `-s none` (no sanitizer), release code with debug assertions and overflow checks.
#   bash fuzz/run.sh 60            # all targets, 60 s each
#   bash fuzz/run.sh 60 command    # some targets only
#
# Toolchain: nightly when installed, with `-Zub-checks=no`, else stable. The flag drops only
# the precondition checks of std's own unsafe code inlined into the targets; overflow checks,
# `debug_assert!`s and coverage with `-trace-compares` stay. smtpkit has no `unsafe`, so safe
# code cannot break those preconditions, and under compare tracing each check is a traced
# call: about 12% of the session target's instructions per run. (They also go for rustls and
# ring inside session_tls, whose own tests are where their unsafe code is checked.)
#
# The campaign accumulates: corpus/<target>/ (committed) is where each run starts, and after
# each run it is replaced by the minimized union of itself and what the run found.
#   1. Fuzz: seeds from corpus/<target>/ (read), new inputs to work/<target>/ (ignored by git),
#      crashes and hangs to artifacts/<target>/ (ignored by git). Log: work/<target>.log.
#   2. Merge: libFuzzer `-merge=1` of corpus/<target>/ and work/<target>/ into a fresh
#      directory, keeping only inputs that add coverage (inputs cut to -max_len=4096 bytes);
#      that directory then replaces corpus/<target>/ and work/<target>/ is emptied. Log:
#      work/<target>.merge.log. If the merge fails, corpus/ and work/ are left as they were.
#   Commit corpus/<target>/ after a run so the next one starts where this one ended.
# One summary line per target: seconds, executions, exec/s, corpus files before -> after.
# Exit status: 0 every target ran without a crash and merged; 1 a target found a crash or a
# hang (see its log and artifacts/<target>/); 2 the build or a merge failed (no crash seen).
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
  export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Zub-checks=no"
else
  echo "(no nightly toolchain: building on stable, with std's UB checks)"
  fuzz=(cargo fuzz)
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <("${fuzz[@]}" list)
"${fuzz[@]}" build -s none >/dev/null 2>&1 || "${fuzz[@]}" build -s none || exit 2
count() { find "$1" -maxdepth 1 -type f | wc -l; }
failed=()
merge_failed=()
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "corpus/$t"
  before=$(count "corpus/$t")
  echo "== $t (${secs}s)"
  # -max_total_time bounds the run; timeout is the backstop should a run hang.
  timeout --kill-after=10 "$((secs + 60))" \
    "${fuzz[@]}" run -s none "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=4096 -print_final_stats=1 \
      >"work/$t.log" 2>&1
  rc=$?
  execs=$(grep -oE "^stat::number_of_executed_units: *[0-9]+" "work/$t.log" | grep -oE "[0-9]+$")
  rate=$(grep -oE "^stat::average_exec_per_sec: *[0-9]+" "work/$t.log" | grep -oE "[0-9]+$")
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "!! $t failed (rc=$rc); see fuzz/work/$t.log and fuzz/artifacts/$t/"
    grep -E "panicked|ERROR|SUMMARY" "work/$t.log" | head -5
  fi
  # Merge and minimize even after a crash: what the run found before it is still coverage.
  new="work/$t.merge"
  rm -rf "$new"
  mkdir -p "$new"
  if timeout --kill-after=10 "$((secs + 600))" \
      "${fuzz[@]}" run -s none "$t" "$new" "corpus/$t" "work/$t" -- \
        -merge=1 -timeout=20 -rss_limit_mb=4096 -max_len=4096 >"work/$t.merge.log" 2>&1 &&
      [ "$(count "$new")" -gt 0 ]; then
    rm -rf "corpus/$t"
    mv "$new" "corpus/$t"
    find "work/$t" -mindepth 1 -delete
  else
    rm -rf "$new"
    merge_failed+=("$t")
    echo "!! $t: merge failed; corpus/$t left as it was, see fuzz/work/$t.merge.log"
  fi
  after=$(count "corpus/$t")
  echo "$t: ${secs}s, ${execs:-?} executions, ${rate:-?} exec/s, corpus $before -> $after files"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]}"
  exit 1
fi
if [ ${#merge_failed[@]} -gt 0 ]; then
  echo "merge failed for: ${merge_failed[*]}"
  exit 2
fi
echo "all ${#targets[@]} targets ran ${secs}s each without a crash; corpora merged"
