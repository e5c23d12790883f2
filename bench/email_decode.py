"""Python's email package as a decode peer for smtpkit's MIME bench.

Usage: email_decode.py BUDGET_SECONDS FILE...  Prints one line per file: MB/s for parsing the
message and decoding every leaf's payload, repeated for the time budget."""
import sys
import time
from email import policy
from email.parser import BytesParser


def decode(data):
    msg = BytesParser(policy=policy.default).parsebytes(data)
    for part in msg.walk():
        if not part.is_multipart():
            part.get_payload(decode=True)
    return msg


budget = float(sys.argv[1])
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        data = f.read()
    n = 0
    t0 = time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < budget:
        decode(data)
        n += 1
    print(n * len(data) / (time.perf_counter() - t0) / 1e6)
