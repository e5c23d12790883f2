"""Reads `perf script -F comm,pid,tid,cpu,event,trace` of sched_waking/sched_wakeup/sched_switch
from stdin; argv: the server's PID and a label. Counts the wake-ups of the server's threads and
of smtp-source by waker (smtp-source, a server thread, anything else) and placement (on the
waker's vCPU or not; moved from the vCPU it last ran on or not)."""
import re, sys, collections
spid = sys.argv[1]; label = sys.argv[2]
line_re = re.compile(r'^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+(sched:\w+):\s*(.*)$')
server_tids = set()
client_tids = set()
last_cpu = {}
waking = {}  # wakee tid -> (waker comm class, waker cpu)
counts = collections.Counter()
for line in sys.stdin:
    m = line_re.match(line)
    if not m:
        continue
    comm, pid, tid, cpu, ev, trace = m.groups()
    cpu = int(cpu)
    if pid == spid:
        server_tids.add(tid)
    if comm.startswith('smtp-source'):
        client_tids.add(tid)
    if ev == 'sched:sched_switch':
        # prev_comm=.. prev_pid=N ... next_comm=.. next_pid=M
        nm = re.search(r'next_pid=(\d+)', trace)
        if nm:
            last_cpu[nm.group(1)] = cpu
        continue
    wm = re.search(r'pid=(\d+)', trace)
    if not wm:
        continue
    wakee = wm.group(1)
    if ev == 'sched:sched_waking':
        who = 'client' if comm.startswith('smtp-source') else ('server' if pid == spid else 'other:' + comm.split('/')[0][:12])
        waking[wakee] = (who, cpu)
    elif ev == 'sched:sched_wakeup':
        tm = re.search(r'target_cpu=(\d+)', trace)
        if not tm or wakee not in waking:
            continue
        target = int(tm.group(1))
        who, wcpu = waking.pop(wakee)
        prev = last_cpu.get(wakee)
        key = 'server' if wakee in server_tids else 'client' if wakee in client_tids else None
        if key is None:
            continue
        counts[(key, who, 'same vCPU as waker' if target == wcpu else 'other vCPU', 'moved' if prev is not None and prev != target else 'stayed')] += 1
for key in ('server', 'client'):
    rows = {k[1:]: n for k, n in counts.items() if k[0] == key}
    tot = sum(rows.values())
    print(f'{label}: {tot} wake-ups of the {key}' + ("'s threads" if key == 'server' else ' (smtp-source)'))
    for (who, where, moved), n in sorted(rows.items(), key=lambda kv: -kv[1]):
        print(f'  woken by {who:<14} {where:<19} {moved:<7} {n:6d} ({n * 100 / max(tot, 1):.0f}%)')
