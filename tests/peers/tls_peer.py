"""An asyncio + ssl peer for the TLS peers tests (run with /usr/bin/python3).

    tls_peer.py server CERTDIR [--uvloop]
    tls_peer.py client CERTDIR HOST PORT SIZE SEED [--uvloop]

CERTDIR holds ca.pem, server.pem, server.key (PEM files written by the test).

server: a TLS echo server on 127.0.0.1 (a free port) that prints, one per line,
    loop <module.Class of the running loop>
    listening <port>
and, once a client has closed its side (close_notify or EOF):
    received <bytes> <sha256 hex of the bytes>
It echoes every byte, then closes (which sends close_notify). Serves until killed.

client: connects with the CA and the host name "localhost" checked, sends SIZE random bytes
in chunks of random sizes (1 B .. 256 KiB, from SEED) while reading the echo, and, once the
whole echo is back (TLS has no half-close), closes and prints one JSON line:
    {"loop": ..., "version": ..., "cipher": ..., "sent": n, "sentSha256": hex,
     "received": n, "receivedSha256": hex}
"""
import asyncio
import hashlib
import json
import os
import random
import ssl
import sys


def loop_name():
    loop = type(asyncio.get_running_loop())
    return f"{loop.__module__}.{loop.__qualname__}"


async def serve(certdir):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(certdir, "server.pem"), os.path.join(certdir, "server.key"))

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
        except (ConnectionError, ssl.SSLError) as exc:
            print(f"error {type(exc).__name__} {exc}", flush=True)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(f"loop {loop_name()}", flush=True)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


async def client(certdir, host, port, size, seed):
    ctx = ssl.create_default_context(cafile=os.path.join(certdir, "ca.pem"))
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname="localhost")
    data = os.urandom(size)
    rng = random.Random(seed)

    async def send():
        view = memoryview(data)
        offset = 0
        while offset < size:
            n = rng.randint(1, 256 * 1024)
            writer.write(view[offset : offset + n])
            offset += n
            await writer.drain()

    async def receive():
        digest = hashlib.sha256()
        total = 0
        while total < size:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
        return total, digest.hexdigest()

    _, (received, received_sha) = await asyncio.gather(send(), receive())
    sslobj = writer.get_extra_info("ssl_object")
    version, cipher = sslobj.version(), sslobj.cipher()[0]
    writer.close()
    await writer.wait_closed()
    report = {
        "loop": loop_name(),
        "version": version,
        "cipher": cipher,
        "sent": size,
        "sentSha256": hashlib.sha256(data).hexdigest(),
        "received": received,
        "receivedSha256": received_sha,
    }
    print(json.dumps(report), flush=True)


def run(coro):
    if "--uvloop" in sys.argv[1:]:
        import uvloop

        if hasattr(uvloop, "run"):
            return uvloop.run(coro)
        uvloop.install()
    return asyncio.run(coro)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if args[0] == "server":
        run(serve(args[1]))
    elif args[0] == "client":
        run(client(args[1], args[2], int(args[3]), int(args[4]), int(args[5])))
    else:
        sys.exit(f"usage: {sys.argv[0]} server CERTDIR | client CERTDIR HOST PORT SIZE SEED [--uvloop]")
