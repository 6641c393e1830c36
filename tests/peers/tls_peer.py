"""A Python asyncio TLS peer for the TLS peer tests (run with /usr/bin/python3).

    tls_peer.py server CERT KEY [--uvloop]
        Listens with TLS on 127.0.0.1 and prints "loop <class>" and "listening <port>";
        echoes each connection until the client's close_notify (EOF), then prints
        "received <bytes> <sha256>" and closes.
    tls_peer.py client PORT CA SIZE SEED [--uvloop]
        Connects with TLS (server_hostname localhost, the CA given), sends SIZE pseudo-random
        bytes while reading their echo, closes, and prints one JSON line:
        {"loop", "sent", "sentSha256", "received", "receivedSha256", "version"}.
"""
import asyncio
import hashlib
import json
import random
import ssl
import sys

from echo_server import handle


def loop_name():
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__qualname__}"


async def serve(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(f"loop {loop_name()}", flush=True)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


async def client(port, ca, size, seed):
    ctx = ssl.create_default_context(cafile=ca)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    rng = random.Random(seed)
    data = rng.randbytes(size)
    sent = hashlib.sha256(data).hexdigest()

    async def send():
        offset = 0
        while offset < size:
            n = rng.randint(1, 256 * 1024)
            writer.write(data[offset:offset + n])
            offset += n
            await writer.drain()

    async def receive():
        digest = hashlib.sha256()
        got = 0
        while got < size:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            digest.update(chunk)
            got += len(chunk)
        return got, digest.hexdigest()

    _, (got, received) = await asyncio.gather(send(), receive())
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    await writer.wait_closed()
    print(json.dumps({"loop": loop_name(), "sent": size, "sentSha256": sent, "received": got,
                      "receivedSha256": received, "version": version}), flush=True)


def main():
    args = [a for a in sys.argv[1:] if a != "--uvloop"]
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    if args[0] == "server":
        asyncio.run(serve(args[1], args[2]))
    else:
        asyncio.run(client(int(args[1]), args[2], int(args[3]), int(args[4])))


if __name__ == "__main__":
    main()
