#!/bin/bash
# usage: cpu.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: msg/s and the server's user+sys CPU per message
# SERVER: sink | collect | catcher (CATCHER_FLAGS=--no-fsync for the other) | smtpsink | mailin. Build first:
# cargo build --release -p smtpkit-bench --bins && cargo build --release --example smtp_server
T=${TARGET_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/target/release}
srv=$1; s=$2; m=$3; l=$4; shift 4
port=$(( 20000 + RANDOM % 20000 ))
case $srv in
  sink) $T/smtpkit_sink > ${TMPDIR:-/tmp}/port.$$ & pid=$!;;
  collect) $T/smtpkit_collect > ${TMPDIR:-/tmp}/port.$$ & pid=$!;;
  catcher*) rm -rf /dev/shm/srvperf-md.$$; $T/examples/smtp_server --listen 127.0.0.1:$port --maildir /dev/shm/srvperf-md.$$ --max-sessions 1100 --max-per-ip 1100 $CATCHER_FLAGS 2>/dev/null & pid=$!; echo $port > ${TMPDIR:-/tmp}/port.$$;;
  smtpsink) /usr/sbin/smtp-sink -u nobody -m 1100 127.0.0.1:$port 1024 & pid=$!; echo $port > ${TMPDIR:-/tmp}/port.$$;;
  mailin) $T/mailin_sink > ${TMPDIR:-/tmp}/port.$$ & pid=$!;;
esac
sleep 0.3
port=$(head -1 ${TMPDIR:-/tmp}/port.$$)
read -r u0 s0 < <(awk "{print \$14, \$15}" /proc/$pid/stat)
t0=$(date +%s.%N)
${WRAP} /usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
t1=$(date +%s.%N)
sleep 0.1
read -r u1 s1 < <(awk "{print \$14, \$15}" /proc/$pid/stat)
kill $pid; wait $pid 2>/dev/null
rm -rf /dev/shm/srvperf-md.$$ ${TMPDIR:-/tmp}/port.$$
python3 -c "m=$m; dt=$t1-$t0; u=($u1-$u0)/100; s=($s1-$s0)/100; print('$srv s=$s m=$m l=$l $*: %.0f msg/s, cpu/1000msg %.3f s (user %.3f sys %.3f)' % (m/dt, (u+s)*1000/m, u*1000/m, s*1000/m))"
