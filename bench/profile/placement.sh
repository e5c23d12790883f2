#!/bin/bash
# usage: placement.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: msg/s and the server's CPU per message under three
# placements: server and smtp-source on the same vCPU (taskset -c 0 for both), on different
# vCPUs (server on 0, smtp-source on 1), and unpinned (the scheduler's choice).
# SERVER: sink | catcher | smtpsink | mailin (build first, as for cpu.sh).
T=${TARGET_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/target/release}
srv=$1; s=$2; m=$3; l=$4; shift 4; flags=("$@")
run() { # SERVER_CPUS CLIENT_CPUS LABEL
  local port=$(( 20000 + RANDOM % 20000 )) pid u0 s0 u1 s1 t0 t1
  case $srv in
    sink) taskset -c $1 $T/smtpkit_sink > ${TMPDIR:-/tmp}/port.$$ & pid=$!;;
    catcher) rm -rf /dev/shm/srvperf-md.$$; taskset -c $1 $T/examples/smtp_server --listen 127.0.0.1:$port --maildir /dev/shm/srvperf-md.$$ --max-sessions 1100 --max-per-ip 1100 2>/dev/null & pid=$!; echo $port > ${TMPDIR:-/tmp}/port.$$;;
    smtpsink) taskset -c $1 /usr/sbin/smtp-sink -u nobody -m 1100 127.0.0.1:$port 1024 & pid=$!; echo $port > ${TMPDIR:-/tmp}/port.$$;;
    mailin) taskset -c $1 $T/mailin_sink > ${TMPDIR:-/tmp}/port.$$ & pid=$!;;
  esac
  sleep 0.3
  port=$(head -1 ${TMPDIR:-/tmp}/port.$$)
  read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
  t0=$(date +%s.%N)
  taskset -c $2 /usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "${flags[@]}" 127.0.0.1:$port
  t1=$(date +%s.%N)
  sleep 0.05
  read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
  kill $pid; wait $pid 2>/dev/null
  rm -rf /dev/shm/srvperf-md.$$ ${TMPDIR:-/tmp}/port.$$
  python3 -c "print('%s s=%s l=%s %s %-16s %6.0f msg/s, CPU ms/msg %.3f' % ('$srv', $s, $l, '${flags[*]}', '$3:', $m/($t1-$t0), (($u1-$u0)+($s1-$s0))*1000/$(getconf CLK_TCK)/$m))"
}
run 0 0 same-vCPU
run 0 1 different-vCPUs
run 0,1 0,1 unpinned
