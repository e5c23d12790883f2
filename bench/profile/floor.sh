#!/bin/bash
# usage: floor.sh ROUNDS SESSIONS MSGS SIZE [smtp-source flags]: msg/s and server CPU per message
# of smtpkit (discard), the shape's floor (bench/src/bin/floor_sink.rs: thread per connection,
# listener hands off to a pool, nothing else), the floor without the hand-off (pool threads
# accept for themselves), Postfix smtp-sink and mailin-embedded; unpinned, the contenders
# alternating in every round. One line per run; the median per server at the end.
# Build first: cargo build --release -p smtpkit-bench --bins
. "$(dirname "$0")/lib.sh"
rounds=$1; s=$2; m=$3; l=$4; shift 4; flags=("$@")
servers=(${SERVERS:-sink floor floor-accept smtpsink mailin})
out=${TMPDIR:-/tmp}/floor.$$
: > $out
for r in $(seq "$rounds"); do
  for srv in "${servers[@]}"; do
    start_server $srv
    read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
    t0=$(date +%s.%N)
    /usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "${flags[@]}" 127.0.0.1:$port
    t1=$(date +%s.%N)
    sleep 0.05
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
    stop_server
    python3 -c "print('%s %.0f %.4f' % ('$srv', $m/($t1-$t0), (($u1-$u0)+($s1-$s0))*1000/$(getconf CLK_TCK)/$m))" | tee -a $out
  done
done
echo "median of $rounds: server msg/s CPU-ms/msg (sessions $s, size $l, ${flags[*]})"
python3 - "$out" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    name, rate, cpu = line.split()
    rows.setdefault(name, []).append((float(rate), float(cpu)))
ref = rows.get("smtpsink")
for name, v in rows.items():
    rate, cpu = st.median(r for r, _ in v), st.median(c for _, c in v)
    vs = ""
    if ref:
        vs = "  vs smtp-sink: msg/s %.2fx, CPU %.2fx" % (rate / st.median(r for r, _ in ref), cpu / st.median(c for _, c in ref))
    print("%-13s %7.0f msg/s  %.3f ms/msg%s" % (name, rate, cpu, vs))
PY
rm -f $out
