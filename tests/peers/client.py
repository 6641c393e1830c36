"""An asyncio client for the peers tests (run with /usr/bin/python3).

    client.py HOST PORT SIZE SEED [--uvloop]

Connects, sends SIZE random bytes in chunks of random sizes (1 B .. 256 KiB, from SEED)
while reading everything the server sends back, half-closes after the last byte, reads
until EOF, and prints one JSON line:
    {"loop": ..., "sent": n, "sentSha256": hex, "received": n, "receivedSha256": hex}
"""
import asyncio
import hashlib
import json
import os
import random
import sys


async def main(host, port, size, seed):
    reader, writer = await asyncio.open_connection(host, port)
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
        writer.write_eof()

    async def receive():
        digest = hashlib.sha256()
        total = 0
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                return total, digest.hexdigest()
            digest.update(chunk)
            total += len(chunk)

    _, (received, received_sha) = await asyncio.gather(send(), receive())
    writer.close()
    await writer.wait_closed()
    loop = type(asyncio.get_running_loop())
    print(
        json.dumps(
            {
                "loop": f"{loop.__module__}.{loop.__qualname__}",
                "sent": size,
                "sentSha256": hashlib.sha256(data).hexdigest(),
                "received": received,
                "receivedSha256": received_sha,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--uvloop" in sys.argv[1:]:
        import uvloop

        if hasattr(uvloop, "run"):
            uvloop.run(main(args[0], int(args[1]), int(args[2]), int(args[3])))
        else:
            uvloop.install()
            asyncio.run(main(args[0], int(args[1]), int(args[2]), int(args[3])))
    else:
        asyncio.run(main(args[0], int(args[1]), int(args[2]), int(args[3])))
