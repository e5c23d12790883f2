#!/bin/bash
# usage: mime_cg.sh N ARGS...: callgrind instructions per operation of the mime bench's
# profile modes, e.g. `mime_cg.sh 2000 profile 2` (deep multipart decode, smtpkit),
# `mime_cg.sh 2000 profile 2 mail-parser`, `mime_cg.sh 2000 profile-build [attach] [mail-builder]`.
# Runs the mode with 0 and N operations and divides the difference by N, so the set-up
# (corpus generation, start-up) cancels out. Build first:
# `cargo bench -p smtpkit-bench --bench mime --no-run`.
set -e
n=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MIME_BENCH:-$(ls -t "$root"/target/release/deps/mime-* | grep -v '\.d$' | head -1)}
out=${TMPDIR:-/tmp}/mimecg.$$
ir() {
  # profile: `profile CORPUS COUNT [mail-parser]`; profile-build: `profile-build COUNT ...`.
  local count=$1; shift
  if [ "$1" = profile ]; then set -- profile "$2" "$count" "${@:3}"; else set -- "$1" "$count" "${@:2}"; fi
  valgrind --tool=callgrind --callgrind-out-file=$out "$bin" "$@" >/dev/null 2>&1
  callgrind_annotate $out 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}'
  rm -f $out
}
a=$(ir 0 "$@")
b=$(ir "$n" "$@")
echo "$*: Ir/op=$(( (b - a) / n ))"
