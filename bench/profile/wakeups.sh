#!/bin/bash
# usage: wakeups.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: where the scheduler puts the
# server's threads when they wake, against where smtp-source runs. Records the scheduler's
# tracepoints (sched_waking/sched_wakeup/sched_switch, all CPUs) over one smtp-source load and
# prints, for the server's wake-ups: who woke them (the client, another server thread, an
# interrupt), whether the woken thread ran on the waker's vCPU or the other one, and whether it
# moved from where it ran before. SERVER and building first: see lib.sh. Needs perf and root.
. "$(dirname "$0")/lib.sh"
srv=$1; s=$2; m=$3; l=$4; shift 4
data=${TMPDIR:-/tmp}/wakeups.$$.data
start_server $srv
perf record -q -e sched:sched_waking,sched:sched_wakeup,sched:sched_switch -a -o $data 2>/dev/null & ppid=$!
sleep 0.5
/usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
kill -INT $ppid; wait $ppid
spid=$pid
stop_server
perf script -i $data -F comm,pid,tid,cpu,event,trace 2>/dev/null | python3 "$(dirname "$0")/wakeups.py" "$spid" "$srv"
rm -f $data
