#!/bin/bash
# usage: perfrecord.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: where the server's CPU goes,
# by kernel path. `perf record -g` on the server process under one smtp-source load; prints the
# samples per 1000 messages in all, under the scheduler's switch-in (`finish_task_switch`, the
# cost of blocking and being woken), and under blocking reads (`sk_wait_data`), accept and futex.
# SERVER and building first: see lib.sh. Needs perf and root.
. "$(dirname "$0")/lib.sh"
srv=$1; s=$2; m=$3; l=$4; shift 4
data=${TMPDIR:-/tmp}/perfrecord.$$.data
start_server $srv
perf record -q -g -F 4000 -o $data -p $pid 2>/dev/null & ppid=$!
sleep 0.3
/usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port
sleep 0.1
kill -INT $ppid; wait $ppid
stop_server
# Samples in all (every thread of the server), then the inclusive share of four kernel paths.
tot=$(perf report -i $data --stdio -n --sort pid -g none 2>/dev/null | awk '$1 ~ /%$/ { n += $3 } END { print n + 0 }')
share() { perf report -i $data --children --stdio --sort sym -g none 2>/dev/null | awk -v f="$1" '$NF == f { sub("%", "", $1); print $1; exit }'; }
printf "%s s=%s l=%s %s: %.0f samples per 1000 msg (4000 Hz); switch-in %s%%, blocking read %s%%, accept %s%%, futex %s%%\n" \
  "$srv" "$s" "$l" "$*" "$(echo "$tot * 1000 / $m" | bc -l)" "$(share finish_task_switch.isra.0)" "$(share sk_wait_data)" "$(share inet_csk_accept)" "$(share futex_do_wait)"
rm -f $data
