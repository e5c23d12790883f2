"""aiosmtpd with a discarding handler, for smtpkit's server bench.

Binds 127.0.0.1:0, prints the port, serves until killed. Optional arguments CERT KEY
enable STARTTLS (not required)."""
import asyncio
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


async def main():
    tls = None
    if len(sys.argv) == 3:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[1], sys.argv[2])
    loop = asyncio.get_running_loop()
    handler = Discard()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="bench.example.org", tls_context=tls,
                     require_starttls=False, data_size_limit=None, enable_SMTPUTF8=True),
        "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
