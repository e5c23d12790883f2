#!/bin/bash
# usage: cg.sh SERVER TAG SESSIONS MSGS SIZE [flags]: callgrind instructions per message (after a 100-message warm-up)
T=${TARGET_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/target/release}
srv=$1; tag=$2; s=$3; m=$4; l=$5; shift 5
port=$(( 20000 + RANDOM % 20000 ))
out=${TMPDIR:-/tmp}/cg.$srv.$tag
rm -f $out.*
case $srv in
  sink) cmd="$T/smtpkit_sink";;
  catcher) rm -rf /dev/shm/srvperf-md.$$; cmd="$T/examples/smtp_server --listen 127.0.0.1:$port --maildir /dev/shm/srvperf-md.$$ --max-sessions 1100 --max-per-ip 1100 $CATCHER_FLAGS";;
  smtpsink) cmd="/usr/sbin/smtp-sink -u nobody -m 1100 127.0.0.1:$port 1024";;
  mailin) cmd="$T/mailin_sink";;
  floor) cmd="$T/floor_sink";;
esac
valgrind --tool=callgrind --callgrind-out-file=$out.%p $cmd > ${TMPDIR:-/tmp}/port.$$ 2>${TMPDIR:-/tmp}/vg.$$ & pid=$!
sleep 3
case $srv in sink|mailin|floor) port=$(head -1 ${TMPDIR:-/tmp}/port.$$);; esac
/usr/sbin/smtp-source -s $s -m 100 -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
sleep 1
callgrind_control -z $pid >/dev/null
/usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
sleep 1
callgrind_control -d $pid >/dev/null
sleep 1
kill $pid; wait $pid 2>/dev/null
rm -rf /dev/shm/srvperf-md.$$ ${TMPDIR:-/tmp}/port.$$
f=$(ls -t $out.*.1 2>/dev/null | head -1)
[ -z "$f" ] && f=$(ls -t $out.* | head -1)
tot=$(callgrind_annotate $f 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
echo "$srv $tag s=$s m=$m: Ir/msg=$((tot / m)) file=$f"
