"""A stream server with a small `limit` (asyncio), the reference for real-programs-2.test.ts.

The server reads with limit=64: a short line; a line over the limit (readline's ValueError,
the line dropped, the connection still usable); readuntil with two separators; readuntil
over the limit (LimitOverrunError, the data left in the buffer); and readexactly cut short
by EOF (IncompleteReadError with `partial`). The client sends each step after the server's ack.
"""
import asyncio
import sys


async def readuntil_either(reader, separators, first_match):
    if sys.version_info >= (3, 13):
        return await reader.readuntil(separators)
    # 3.11/3.12 take one separator: the step names the one 3.13's tuple form matches first
    return await reader.readuntil(first_match)


async def main():
    events = []

    def error(e):
        return f'{type(e).__name__}: {e}'

    async def handle(reader, writer):
        async def step(label, read):
            try:
                events.append(f'{label}: {await read()!r}')
            except Exception as e:
                events.append(f'{label}: {error(e)}')
                if isinstance(e, asyncio.IncompleteReadError):
                    events.append(f'{label}: partial {e.partial!r} expected {e.expected}')
                if isinstance(e, asyncio.LimitOverrunError):
                    events.append(f'{label}: consumed {e.consumed}')
            writer.write(b'ok\n')

        await step('short line', reader.readline)
        await step('long line', reader.readline)
        await step('line after', reader.readline)
        await step('either 1', lambda: readuntil_either(reader, (b'\r\n', b';'), b';'))
        await step('either 2', lambda: readuntil_either(reader, (b'\r\n', b';'), b'\r\n'))
        await step('long until', lambda: reader.readuntil(b';'))
        await step('left behind', lambda: reader.readexactly(101))
        await step('exactly', lambda: reader.readexactly(10))
        writer.close()
        await writer.wait_closed()
        done.set()

    done = asyncio.Event()
    server = await asyncio.start_server(handle, '127.0.0.1', 0, limit=64)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    # what the client sends before each of the server's steps (None: the step reads what is there)
    for chunk in (b'short\n', b'x' * 100 + b'\n', b'after\n', b'a;b\r\n', None, b'y' * 100 + b';', None, b'tail'):
        if chunk is not None:
            writer.write(chunk)
        if chunk == b'tail':
            writer.write_eof()
        await reader.readline()
    await done.wait()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    print('\n'.join(events))


asyncio.run(main())
