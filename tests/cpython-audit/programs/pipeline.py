"""A subprocess pipeline (printf | sort | tr) joined with streams (asyncio 3.13), the reference for real-programs.test.ts."""
import asyncio
from asyncio.subprocess import PIPE


async def pump(reader, writer):
    async for line in reader:
        writer.write(line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main():
    source = await asyncio.create_subprocess_exec('printf', 'pear\\napple\\nfig\\nbanana\\n', stdout=PIPE)
    sort = await asyncio.create_subprocess_exec('sort', stdin=PIPE, stdout=PIPE)
    upper = await asyncio.create_subprocess_exec('tr', 'a-z', 'A-Z', stdin=PIPE, stdout=PIPE)
    _, _, out = await asyncio.gather(pump(source.stdout, sort.stdin), pump(sort.stdout, upper.stdin), upper.stdout.read())
    codes = [await p.wait() for p in (source, sort, upper)]
    print(repr(out.decode()), codes)
    failing = await asyncio.create_subprocess_shell('echo oops >&2; exit 3', stderr=PIPE)
    _, err = await failing.communicate()
    print(repr(err.decode()), failing.returncode)


asyncio.run(main())
