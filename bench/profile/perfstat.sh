#!/bin/bash
# usage: perfstat.sh SERVER SESSIONS MSGS SIZE [flags]: context switches etc. of the server process
. "$(dirname "$0")/lib.sh"
srv=$1; s=$2; m=$3; l=$4; shift 4
start_server $srv
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p $pid -o ${TMPDIR:-/tmp}/perf.$$ &
ppid=$!
sleep 0.2
/usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
sleep 0.1
kill -INT $ppid; wait $ppid
stop_server
awk -v m=$m '/task-clock|context-switches|migrations|faults/ {gsub(",","",$1); printf "%s/msg=%.3f ", $2, $1/m}' ${TMPDIR:-/tmp}/perf.$$; echo " [$srv s=$s $*]"
rm -f ${TMPDIR:-/tmp}/perf.$$
