#!/bin/bash
# usage: placement.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: msg/s and the server's CPU per message under three
# placements: server and smtp-source on the same vCPU (taskset -c 0 for both), on different
# vCPUs (server on 0, smtp-source on 1), and unpinned (the scheduler's choice).
# SERVER and building first: see lib.sh.
. "$(dirname "$0")/lib.sh"
srv=$1; s=$2; m=$3; l=$4; shift 4; flags=("$@")
run() { # SERVER_CPUS CLIENT_CPUS LABEL
  local u0 s0 u1 s1 t0 t1
  start_server $srv taskset -c $1
  read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
  t0=$(date +%s.%N)
  taskset -c $2 /usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "${flags[@]}" 127.0.0.1:$port
  t1=$(date +%s.%N)
  sleep 0.05
  read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
  stop_server
  python3 -c "print('%s s=%s l=%s %s %-16s %6.0f msg/s, CPU ms/msg %.3f' % ('$srv', $s, $l, '${flags[*]}', '$3:', $m/($t1-$t0), (($u1-$u0)+($s1-$s0))*1000/$(getconf CLK_TCK)/$m))"
}
run 0 0 same-vCPU
run 0 1 different-vCPUs
run 0,1 0,1 unpinned
