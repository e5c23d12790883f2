#!/bin/bash
# usage: clientperf.sh SERVER SESSIONS MSGS SIZE [smtp-source flags]: where smtp-source's own CPU
# goes under SERVER's load. `perf record -g` on smtp-source; prints its samples per 1000 messages,
# then the kernel paths that take the most (inclusive, samples per 1000 messages at 4000 Hz).
# `sock_def_readable` is the wake-up of a reader blocked on the socket the client just wrote to.
# SERVER and building first: see lib.sh. Needs perf and root.
. "$(dirname "$0")/lib.sh"
srv=$1; s=$2; m=$3; l=$4; shift 4
data=${TMPDIR:-/tmp}/clientperf.$$.data
start_server $srv
perf record -q -g -F 4000 -o $data /usr/sbin/smtp-source -s $s -m $m -l $l -f sender@example.org -t rcpt@example.org -M client.example.org "$@" 127.0.0.1:$port 2>/dev/null
stop_server
tot=$(perf report -i $data --stdio -n --sort pid -g none 2>/dev/null | awk '$1 ~ /%$/ { n += $3 } END { print n + 0 }')
echo "$srv s=$s l=$l $*: smtp-source $(( tot * 1000 / m )) samples per 1000 msg"
perf report -i $data --children --stdio --sort sym -g none 2>/dev/null \
  | awk -v t=$tot -v m=$m '$1 ~ /%$/ { sub("%", "", $1); printf "%7.0f  %s\n", $1 * t / 100 * 1000 / m, $NF }' \
  | grep -E "sock_def_readable|try_to_wake_up|_raw_spin_unlock_irqrestore|tcp_sendmsg$|__libc_write|__libc_connect|epoll_wait|__poll|do_syscall_64$" | head -12
rm -f $data
