"""usage: phases.py PORT N: one message per connection, N times (HELO, MAIL, RCPT, DATA, a 4 KiB
body, QUIT), each phase's mean wall time in microseconds: the greeting, the four commands, the
body's reply, QUIT's reply, the server's end of stream. Run it with the server and this client
on the same vCPU or on different ones (taskset) to see what placement costs."""
import socket, sys, time
port=int(sys.argv[1]); n=int(sys.argv[2])
body=(b'X'*78+b'\r\n')*52
ph=[0.0]*7
for i in range(n):
    t=[time.perf_counter()]
    s=socket.create_connection(('127.0.0.1',port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,1); f=s.makefile('rb')
    f.readline(); t.append(time.perf_counter())
    for cmd in (b'HELO c.example.org\r\n', b'MAIL FROM:<s@example.org>\r\n', b'RCPT TO:<r@example.org>\r\n', b'DATA\r\n'):
        s.sendall(cmd); f.readline()
    t.append(time.perf_counter())
    s.sendall(body+b'.\r\n'); f.readline(); t.append(time.perf_counter())
    s.sendall(b'QUIT\r\n'); f.readline(); t.append(time.perf_counter())
    f.read(); s.close(); t.append(time.perf_counter())
    for k in range(5): ph[k]+=t[k+1]-t[k]
print('220 %.0f  4cmds %.0f  body %.0f  quit %.0f  eof %.0f  total %.0f us' % tuple([x/n*1e6 for x in ph[:5]]+[sum(ph)/n*1e6]))
