#!/bin/bash
# usage: cpu.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: msg/s and the server's user+sys CPU per message
# SERVER and building first: see lib.sh. WRAP (e.g. "taskset -c 1") runs smtp-source under it.
. "$(dirname "$0")/lib.sh"
srv=$1; s=$2; m=$3; l=$4; shift 4
start_server $srv
read -r u0 s0 < <(awk "{print \$14, \$15}" /proc/$pid/stat)
t0=$(date +%s.%N)
${WRAP} /usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
t1=$(date +%s.%N)
sleep 0.1
read -r u1 s1 < <(awk "{print \$14, \$15}" /proc/$pid/stat)
stop_server
python3 -c "m=$m; dt=$t1-$t0; u=($u1-$u0)/100; s=($s1-$s0)/100; print('$srv s=$s m=$m l=$l $*: %.0f msg/s, cpu/1000msg %.3f s (user %.3f sys %.3f)' % (m/dt, (u+s)*1000/m, u*1000/m, s*1000/m))"
