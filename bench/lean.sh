#!/usr/bin/env bash
# Reproduces BENCHMARKS.md "Lean core" (issue 14): crates per feature set, release binary sizes,
# idle RSS and threads, threads of a loaded catcher growing and shrinking back, RSS per idle
# session. Prints markdown on stdout, progress on stderr. Linux only (/proc/PID/status).
#
#   bench/lean.sh                  # everything (builds the two release binaries first)
#   bench/lean.sh crates rss       # some parts: crates, sizes, threads, rss
#   REPS=5 bench/lean.sh rss       # repetitions of the RSS-per-session runs (default 3)
#   SERVERS=minimal bench/lean.sh rss   # one server (default: minimal catcher)
#
# Needs cargo, python3 and strip (binutils). Servers listen on 127.0.0.1 only and are stopped by
# PID. The throughput rows before/after threads on demand come from the server bench
# (`SMTPKIT_BENCH_QUICK=1 cargo bench -p smtpkit-bench --bench server`), not from here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
reps=${REPS:-3}
servers=${SERVERS:-minimal catcher}
parts=${*:-crates sizes threads rss}
want() { [[ " $parts " == *" $1 "* ]]; }
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

say() { echo "$*" >&2; }

# --- Crates outside the standard library ---------------------------------------------------
# Unique `name version` in the normal-dependency tree, smtpkit itself excluded.
crates() {
  cargo tree -q -p smtpkit -e normal --prefix none --no-dedupe "$@" |
    awk '$1 != "smtpkit" {print $1 " " $2}' | sort -u
}
if want crates; then
echo "#### Crates outside the Rust standard library"
echo
echo "Command: \`cargo tree -p smtpkit -e normal --prefix none --no-dedupe FLAGS | sort -u\`, smtpkit itself not counted."
echo
echo "| features | crates | which (beyond the core's) |"
echo "| --- | --- | --- |"
core=$(crates --no-default-features)
echo "| \`--no-default-features\` (server core) | $(echo "$core" | grep -c .) | $(echo "$core" | awk '{print $1}' | paste -sd, - | sed 's/,/, /g') |"
for f in tls auth client dns mx mime dkim maildir testing auth-check; do
  list=$(crates --no-default-features --features "$f")
  extra=$(comm -13 <(echo "$core") <(echo "$list") | awk '{print $1}' | paste -sd, - | sed 's/,/, /g')
  echo "| \`$f\` | $(echo "$list" | grep -c .) | ${extra:-none} |"
done
all=$(crates)
echo "| default (all) | $(echo "$all" | grep -c .) | (every crate above) |"
echo
fi

# --- Release binaries -------------------------------------------------------------------------
say "building the minimal server and the catcher (release)"
if want sizes || want threads || want rss; then
need() { want sizes || [[ " $servers " == *" $1 "* ]]; }
if need minimal; then
  cargo build -q --release --manifest-path bench/minimal/Cargo.toml --target-dir target
fi
if need catcher; then cargo build -q --release --example smtp_server; fi
minimal=$root/target/release/smtpkit-minimal
catcher=$root/target/release/examples/smtp_server
fi
if want sizes; then
echo "#### Release binaries"
echo
echo "Commands: \`cargo build --release --manifest-path bench/minimal/Cargo.toml --target-dir target\` (bench/minimal: \`smtpkit = { path = \"../..\", default-features = false }\`, a discarding handler, no logger) and \`cargo build --release --example smtp_server\` (the full catcher); stripped with \`strip -o\`."
echo
echo "| binary | crates outside std | size | stripped |"
echo "| --- | --- | --- | --- |"
kib() { echo "$(( ($1 + 512) / 1024 )) KiB"; }
for b in minimal catcher; do
  path=${!b}
  strip -o "$tmp/$b.stripped" "$path"
  if [ $b = minimal ]; then
    n=$(cargo tree -q --manifest-path bench/minimal/Cargo.toml -e normal --prefix none --no-dedupe |
      awk '$1 !~ /^smtpkit/ {print $1 " " $2}' | sort -u | grep -c .)
    name="minimal server (\`bench/minimal\`)"
  else
    # The library with the example's required features, plus the subtrees of the four
    # dev-dependencies the example uses.
    n=$( (crates --no-default-features --features tls,auth,maildir,mime,auth-check
      cargo tree -q -p smtpkit -e normal,dev --prefix depth --no-dedupe --no-default-features \
        --features tls,auth,maildir,mime,auth-check | awk '
        { match($0, /^[0-9]+/); d = substr($0, 1, RLENGTH) + 0; split(substr($0, RLENGTH + 1), f, " ") }
        d == 1 { take = (f[1] ~ /^(lexopt|signal-hook|tiny_http|simplelog)$/) }
        d >= 1 && take { print f[1] " " f[2] }') | sort -u | grep -c .)
    name="catcher (\`examples/smtp_server\`)"
  fi
  echo "| $name | $n | $(kib "$(stat -c %s "$path")") | $(kib "$(stat -c %s "$tmp/$b.stripped")") |"
done
echo
fi

# --- Processes --------------------------------------------------------------------------------
field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT: until something listens there (read from /proc/net/tcp, so no connection is
# made: a connection would start a session thread).
wait_port() {
  local hex
  hex=$(printf '%04X' "$1")
  for _ in $(seq 200); do
    awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" {found = 1} END {exit !found}' /proc/net/tcp && return 0
    sleep 0.05
  done
  say "server on port $1 did not start"; return 1
}
# start NAME PORT: starts a server, sets $pid; waits until it accepts, then lets it settle.
start() {
  case $1 in
    minimal) "$minimal" "$2" >"$tmp/minimal.out" 2>&1 & ;;
    catcher) "$catcher" --listen "127.0.0.1:$2" --maildir "$tmp/maildir" \
      --max-sessions 1100 --max-per-ip 1100 >"$tmp/catcher.out" 2>&1 & ;;
  esac
  pid=$!
  pids+=("$pid")
  wait_port "$2"
  sleep 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }
# hold PORT N: opens N idle sessions (after the greeting) with bench/lean_sessions.py as a
# coprocess; returns once all are greeted. `release` closes them.
hold() {
  coproc HOLD { python3 "$root/bench/lean_sessions.py" "$1" "$2"; }
  local line
  read -r line <&"${HOLD[0]}"
  greeted=$(echo "$line" | awk '{print $2}')
}
release() { eval "exec ${HOLD[1]}>&-"; wait "$HOLD_PID" 2>/dev/null || true; }

if want threads; then
echo "#### Idle and loaded: threads and RSS"
echo
echo "The catcher as \`smtp_server --listen 127.0.0.1:PORT --maildir DIR --max-sessions 1100 --max-per-ip 1100\`; VmRSS and Threads from /proc/PID/status; sessions held by \`bench/lean_sessions.py\` (connected, greeted, silent)."
echo
echo "| server | idle: threads | idle: RSS KiB | 1 session, closed: threads | 50 sessions: threads | closed +1 s | closed +7 s (after thread_idle_timeout 5 s) | RSS after, KiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for s in $servers; do
  port=$(free_port)
  start $s "$port"
  t0=$(field "$pid" Threads); r0=$(field "$pid" VmRSS)
  hold "$port" 1
  release
  sleep 0.3
  ta=$(field "$pid" Threads)
  hold "$port" 50
  sleep 0.3
  t1=$(field "$pid" Threads)
  release
  sleep 1
  t2=$(field "$pid" Threads)
  sleep 6
  t3=$(field "$pid" Threads); r3=$(field "$pid" VmRSS)
  stop
  say "$s: idle $t0 threads $r0 KiB; after one session $ta; 50 sessions $t1; +1 s $t2; +7 s $t3 ($r3 KiB)"
  echo "| $s | $t0 | $r0 | $ta | $t1 | $t2 | $t3 | $r3 |"
done
echo
fi

if want rss; then
echo "#### RSS per idle session (1000 sessions, connected, greeted, silent)"
echo
echo "(VmRSS with the sessions − VmRSS before) / 1000, each run a fresh process; median of $reps runs (every run listed)."
echo
echo "| server | greeted | RSS before KiB | RSS with 1000 sessions KiB | threads | KiB / session (median) | runs |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for s in $servers; do
  per=(); befores=(); afters=()
  for _ in $(seq "$reps"); do
    port=$(free_port)
    start $s "$port"
    r0=$(field "$pid" VmRSS)
    hold "$port" 1000
    sleep 0.5
    r1=$(field "$pid" VmRSS); th=$(field "$pid" Threads)
    release
    stop
    p=$(awk -v a="$r0" -v b="$r1" 'BEGIN {printf "%.1f", (b - a) / 1000}')
    say "$s: $greeted/1000 greeted, $r0 -> $r1 KiB, $th threads: $p KiB/session"
    per+=("$p"); befores+=("$r0"); afters+=("$r1")
  done
  echo "| $s | $greeted/1000 | $(printf '%s\n' "${befores[@]}" | median) | $(printf '%s\n' "${afters[@]}" | median) | $th | $(printf '%s\n' "${per[@]}" | median) | ${per[*]} |"
done
fi
