# Sourced by the profile scripts: starts and stops the server under test, one process.
#   start_server SERVER [WRAPPER...]   sets $pid and $port (WRAPPER, e.g. `taskset -c 0`, runs it)
#   stop_server                         kills $pid and removes the catcher's Maildir
# SERVER: sink | collect | catcher (CATCHER_FLAGS=--no-fsync for the other) | smtpsink | mailin
#   | smtpsink-dump (smtp-sink -d: each message written to its own file on tmpfs, no fsync)
#   | floor | floor-accept (bench/src/bin/floor_sink.rs: the shape's floor, see floor.sh).
# Build first: cargo build --release -p smtpkit-bench --bins && cargo build --release --example smtp_server
T=${TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/release}
portfile=${TMPDIR:-/tmp}/port.$$
maildir=/dev/shm/srvperf-md.$$
start_server() {
  local srv=$1; shift
  port=$(( 20000 + RANDOM % 20000 ))
  case $srv in
    sink) "$@" $T/smtpkit_sink > $portfile & pid=$!;;
    sink-old) "$@" ${OLD_SINK:?set OLD_SINK to another build of smtpkit_sink} > $portfile & pid=$!;;
    collect) "$@" $T/smtpkit_collect > $portfile & pid=$!;;
    catcher*) rm -rf $maildir; "$@" $T/examples/smtp_server --listen 127.0.0.1:$port --maildir $maildir --max-sessions 1100 --max-per-ip 1100 --min-threads 8 $CATCHER_FLAGS 2>/dev/null & pid=$!; echo $port > $portfile;;
    smtpsink) "$@" /usr/sbin/smtp-sink -u nobody -m 1100 127.0.0.1:$port 1024 & pid=$!; echo $port > $portfile;;
    smtpsink-dump) rm -rf $maildir; mkdir -p $maildir; chmod 777 $maildir
      "$@" /usr/sbin/smtp-sink -u nobody -m 1100 -d "$maildir/%d/%H%M%S." 127.0.0.1:$port 1024 & pid=$!; echo $port > $portfile;;
    mailin) "$@" $T/mailin_sink > $portfile & pid=$!;;
    floor) "$@" $T/floor_sink > $portfile & pid=$!;;
    floor-accept) "$@" $T/floor_sink --accept-in-workers > $portfile & pid=$!;;
    floor-linger) "$@" $T/floor_sink --linger > $portfile & pid=$!;;
    *) echo "unknown server $srv" >&2; exit 2;;
  esac
  sleep 0.3
  port=$(head -1 $portfile)
}
stop_server() {
  kill $pid; wait $pid 2>/dev/null
  rm -rf $maildir $portfile
}
