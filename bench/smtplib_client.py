"""Python smtplib as a client peer for smtpkit's client bench.

Usage: smtplib_client.py PORT MODE COUNT BUDGET_SECONDS MESSAGE_FILE RCPT...
MODE is "per-message" (connect, EHLO, MAIL, RCPT x n, DATA, QUIT for each message) or
"reused" (one connection for all). Stops after COUNT messages or BUDGET_SECONDS, whichever comes
first, and prints messages per second and CPU seconds per message (interpreter start
excluded from both)."""
import smtplib
import sys
import time

port, mode, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
budget, path, rcpts = float(sys.argv[4]), sys.argv[5], sys.argv[6:]
with open(path, "rb") as f:
    msg = f.read()
sender = "sender@example.org"
t0 = time.perf_counter()
c0 = time.process_time()
sent = 0
if mode == "per-message":
    while sent < count and time.perf_counter() - t0 < budget:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org")
        s.sendmail(sender, rcpts, msg)
        s.quit()
        sent += 1
else:
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org")
    while sent < count and time.perf_counter() - t0 < budget:
        s.sendmail(sender, rcpts, msg)
        sent += 1
    s.quit()
elapsed = time.perf_counter() - t0
print(sent / elapsed, (time.process_time() - c0) / max(sent, 1))
