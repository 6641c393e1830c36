"""An asyncio echo server for the peers tests (run with /usr/bin/python3).

    echo_server.py [--uvloop]

Listens on 127.0.0.1 on a free port and prints, one per line:
    loop <module.Class of the running loop>
    listening <port>
and, for each connection once the client sent EOF:
    received <bytes> <sha256 hex of the bytes>
Echoes every byte back, then half-closes (write_eof, where the transport can: not over TLS)
and closes. Serves until killed. tls_peer.py serves its TLS connections with the same handle().
"""
import asyncio
import hashlib
import ssl
import sys


async def handle(reader, writer):
    digest = hashlib.sha256()
    total = 0
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            digest.update(data)
            total += len(data)
            writer.write(data)
            await writer.drain()
        print(f"received {total} {digest.hexdigest()}", flush=True)
        if writer.can_write_eof():
            writer.write_eof()
    except ConnectionError as exc:
        print(f"error {type(exc).__name__} {exc}", flush=True)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    loop = type(asyncio.get_running_loop())
    print(f"loop {loop.__module__}.{loop.__qualname__}", flush=True)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if "--uvloop" in sys.argv[1:]:
        import uvloop

        if hasattr(uvloop, "run"):
            uvloop.run(main())
        else:
            uvloop.install()
            asyncio.run(main())
    else:
        asyncio.run(main())
