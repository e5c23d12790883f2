#!/bin/bash
# usage: strace.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: syscall counts per message
T=${TARGET_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/target/release}
srv=$1; s=$2; m=$3; l=$4; shift 4
port=$(( 20000 + RANDOM % 20000 ))
out=${TMPDIR:-/tmp}/strace.$srv.$s$*.txt
case $srv in
  sink) cmd="$T/smtpkit_sink";;
  catcher) rm -rf /dev/shm/srvperf-md.$$; cmd="$T/examples/smtp_server --listen 127.0.0.1:$port --maildir /dev/shm/srvperf-md.$$ --max-sessions 1100 --max-per-ip 1100 $CATCHER_FLAGS";;
  smtpsink) cmd="/usr/sbin/smtp-sink -u nobody -m 1100 127.0.0.1:$port 1024";;
  mailin) cmd="$T/mailin_sink";;
  floor) cmd="$T/floor_sink";;
esac
strace -c -f -o $out $cmd > ${TMPDIR:-/tmp}/port.$$ 2>/dev/null & pid=$!
sleep 0.5
case $srv in sink|mailin|floor) port=$(head -1 ${TMPDIR:-/tmp}/port.$$);; esac
/usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
sleep 0.3
for c in $(pgrep -P $pid); do kill $c; done; wait $pid 2>/dev/null
rm -rf /dev/shm/srvperf-md.$$ ${TMPDIR:-/tmp}/port.$$
awk -v m=$m 'NR>2 && $0 !~ /^-/ { calls=($4 ~ /^[0-9]+$/)?$4:0; name=$NF; if (name=="total") tot=calls; else if (calls/m >= 0.05) printf "%s %.2f\n", name, calls/m } END { printf "TOTAL %.2f\n", tot/m }' $out | sort -k2 -nr | tr '\n' ' '; echo
