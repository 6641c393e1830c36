"""Python's side of `pnpm bench:subprocess`: asyncio (or uvloop) create_subprocess_exec,
the same two cases as subprocess-node.js. Usage: /usr/bin/python3 subprocess_bench.py asyncio|uvloop spawn|cat <n>
Prints one JSON line: {"rate": ...}."""
import asyncio
import json
import sys
import time
from asyncio.subprocess import DEVNULL, PIPE


async def spawns(n):
    for _ in range(n):
        proc = await asyncio.create_subprocess_exec('/bin/true', stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
        await proc.wait()


async def cat(n):
    chunk = b'x' * (64 * 1024)
    proc = await asyncio.create_subprocess_exec('/bin/cat', stdin=PIPE, stdout=PIPE, stderr=DEVNULL)

    async def read():
        got = 0
        while True:
            data = await proc.stdout.read(256 * 1024)
            if not data:
                return got
            got += len(data)

    reading = asyncio.ensure_future(read())
    for _ in range(n * 16):
        proc.stdin.write(chunk)
        await proc.stdin.drain()
    proc.stdin.close()
    got = await reading
    await proc.wait()
    if got != n * 1024 * 1024:
        raise RuntimeError(f'cat returned {got} bytes')


async def main(case, n):
    run = spawns if case == 'spawn' else cat
    await run(n)  # warm-up
    start = time.perf_counter()
    await run(n)
    return n / (time.perf_counter() - start)


if __name__ == '__main__':
    flavour, case, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if flavour == 'uvloop':
        import uvloop  # Debian's python3-uvloop predates uvloop.run(): the policy works in every version
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    rate = asyncio.run(main(case, n))
    print(json.dumps({'rate': rate}))
