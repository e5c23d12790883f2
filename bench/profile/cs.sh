#!/bin/bash
# usage: cs.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: context switches, syscalls and task-clock
# per message of the server process (perf stat; software events, so it works on a VM). Context
# switches and syscalls barely move with the load on the machine; task-clock does.
# SERVER and building first: see lib.sh.
. "$(dirname "$0")/lib.sh"
srv=$1; s=$2; m=$3; l=$4; shift 4
start_server $srv
perf stat -e context-switches,cpu-migrations,raw_syscalls:sys_enter,task-clock,page-faults -p $pid -o /tmp/cs.$$.txt 2>/dev/null & ppid=$!
sleep 0.2
/usr/sbin/smtp-source -s $s -m $m -l $l -f s@example.org -t r@example.org -M c.example.org "$@" 127.0.0.1:$port
sleep 0.1
kill -INT $ppid; wait $ppid
stop_server
awk -v m=$m -v srv=$srv '/context-switches/ {gsub(",","",$1); cs=$1} /migrations/ {gsub(",","",$1); mig=$1} /sys_enter/ {gsub(",","",$1); sc=$1} /task-clock/ {gsub(",","",$1); tc=$1} /page-faults/ {gsub(",","",$1); pf=$1} END {printf "%-9s cs/msg %.2f mig/msg %.2f syscalls/msg %.1f task-clock us/msg %.1f page-faults/msg %.2f\n", srv, cs/m, mig/m, sc/m, tc*1000/m, pf/m}' /tmp/cs.$$.txt
rm -f /tmp/cs.$$.txt
