#!/bin/bash
# usage: client.sh ROUNDS SESSIONS MSGS SIZE [smtp-source flags]: what each server costs the load
# generator. Per run: msg/s, the server's CPU per message, smtp-source's own CPU per message, the
# machine's idle share, and smtp-source's voluntary and involuntary context switches per message
# (GNU time). Unpinned, SERVERS (default: sink smtpsink floor floor-accept mailin) alternating in
# every round; the median per server at the end, msg/s also against smtp-sink's.
# SERVER and building first: see lib.sh. Needs /usr/bin/time.
. "$(dirname "$0")/lib.sh"
rounds=$1; s=$2; m=$3; l=$4; shift 4; flags=("$@")
servers=(${SERVERS:-sink smtpsink floor floor-accept mailin})
out=${TMPDIR:-/tmp}/client.$$
tm=${TMPDIR:-/tmp}/client-time.$$
: > $out
for r in $(seq "$rounds"); do
  for srv in "${servers[@]}"; do
    start_server $srv
    read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
    read -r _ a0 b0 c0 i0 e0 f0 g0 _ < /proc/stat
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S %w %c" -o $tm /usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "${flags[@]}" 127.0.0.1:$port
    t1=$(date +%s.%N)
    read -r _ a1 b1 c1 i1 e1 f1 g1 _ < /proc/stat
    sleep 0.05
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
    stop_server
    read -r cu cs cw cc < $tm
    python3 -c "
busy = ($a1+$b1+$c1+$e1+$f1+$g1) - ($a0+$b0+$c0+$e0+$f0+$g0)
idle = $i1 - $i0
print('%s %.0f %.4f %.4f %.1f %.2f %.2f' % ('$srv', $m/($t1-$t0),
  (($u1-$u0)+($s1-$s0))*1000/$(getconf CLK_TCK)/$m, ($cu+$cs)*1000/$m,
  100.0*idle/(idle+busy), $cw/$m, $cc/$m))" | tee -a $out
  done
done
echo "median of $rounds: msg/s, CPU ms/msg of server and of smtp-source, idle %, smtp-source's voluntary/involuntary switches per msg (sessions $s, size $l, ${flags[*]})"
python3 - "$out" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    name, *v = line.split()
    rows.setdefault(name, []).append([float(x) for x in v])
ref = st.median(r[0] for r in rows["smtpsink"]) if "smtpsink" in rows else None
for name, v in rows.items():
    m = [st.median(r[i] for r in v) for i in range(6)]
    vs = " (%.2fx)" % (m[0] / ref) if ref else ""
    print("%-13s %6.0f msg/s%s  server %.3f  client %.3f ms/msg  idle %4.1f%%  client switches %.2f / %.2f"
          % (name, m[0], vs, m[1], m[2], m[3], m[4], m[5]))
PY
rm -f $out $tm
