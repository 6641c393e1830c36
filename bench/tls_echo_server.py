"""A TLS echo server for bench/tls-echo.js (run with /usr/bin/python3):

    tls_echo_server.py CERTDIR [--uvloop]

asyncio's Protocol API (as bench/echo-server.js's loopkit servers use ours) with
ssl=context: TLS 1.3 only (Python's ssl cannot narrow the TLS 1.3 suites; the load
generator offers TLS_AES_128_GCM_SHA256 alone). Listens on 127.0.0.1 on a free port, prints
"PORT <n>", serves until SIGTERM.
"""
import asyncio
import os
import signal
import ssl
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(certdir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(os.path.join(certdir, "server.pem"), os.path.join(certdir, "server.key"))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=ctx)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await stop


if __name__ == "__main__":
    if "--uvloop" in sys.argv[2:]:
        import uvloop

        uvloop.install()
    asyncio.run(main(sys.argv[1]))
