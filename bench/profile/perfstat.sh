#!/bin/bash
# usage: perfstat.sh SERVER SESSIONS MSGS SIZE [flags]: context switches etc. of the server process
T=${TARGET_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/target/release}
srv=$1; s=$2; m=$3; l=$4; shift 4
port=$(( 20000 + RANDOM % 20000 ))
case $srv in
  sink) $T/smtpkit_sink > ${TMPDIR:-/tmp}/port.$$ & pid=$!;;
  catcher*) rm -rf /dev/shm/srvperf-md.$$; $T/examples/smtp_server --listen 127.0.0.1:$port --maildir /dev/shm/srvperf-md.$$ --max-sessions 1100 --max-per-ip 1100 $CATCHER_FLAGS 2>/dev/null & pid=$!; echo $port > ${TMPDIR:-/tmp}/port.$$;;
  smtpsink) /usr/sbin/smtp-sink -u nobody -m 1100 127.0.0.1:$port 1024 & pid=$!; echo $port > ${TMPDIR:-/tmp}/port.$$;;
  mailin) $T/mailin_sink > ${TMPDIR:-/tmp}/port.$$ & pid=$!;;
esac
sleep 0.3
port=$(head -1 ${TMPDIR:-/tmp}/port.$$)
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p $pid -o ${TMPDIR:-/tmp}/perf.$$ &
ppid=$!
sleep 0.2
/usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
sleep 0.1
kill -INT $ppid; wait $ppid
kill $pid; wait $pid 2>/dev/null
awk -v m=$m '/task-clock|context-switches|migrations|faults/ {gsub(",","",$1); printf "%s/msg=%.3f ", $2, $1/m}' ${TMPDIR:-/tmp}/perf.$$; echo " [$srv s=$s $*]"
rm -rf /dev/shm/srvperf-md.$$ ${TMPDIR:-/tmp}/port.$$ ${TMPDIR:-/tmp}/perf.$$
