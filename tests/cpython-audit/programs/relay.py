"""A TCP relay between clients and a line echo server (asyncio), the reference for
real-programs-3.test.ts.

Per client the relay reads a route line, opens its own upstream connection and runs two copy
tasks, waiting with FIRST_EXCEPTION: an EOF is passed on with write_eof (half-close), a
forbidden line fails its copy task and the other one is cancelled, an unreachable upstream is
reported to the client before it is closed. The client of that last session sends nothing past
the route line, so the relay closes with every byte read (a close with unread bytes resets).
Each role keeps its own events (their order across roles is the scheduler's), printed by role.
"""
import asyncio

client_events, relay_events, echo_events = [], [], []


async def echo(reader, writer):
    while line := await reader.readline():
        writer.write(line.upper())
    echo_events.append('echo: eof')
    writer.write(b'BYE\n')
    await writer.drain()
    writer.close()


async def copy(label, reader, writer):
    while line := await reader.readline():
        if line == b'DROP\n':
            raise ValueError(f'{label}: forbidden line')
        relay_events.append(f'{label}: {line!r}')
        writer.write(line)
        await writer.drain()
    relay_events.append(f'{label}: eof')
    writer.write_eof()
    return f'{label} done'


def ended(task):
    if task.cancelled():
        return 'cancelled'
    if task.exception() is not None:
        return f'{type(task.exception()).__name__}: {task.exception()}'
    return repr(task.result())


async def main():
    echo_server = await asyncio.start_server(echo, '127.0.0.1', 0)
    upstream = {'port': echo_server.sockets[0].getsockname()[1]}
    handlers = []

    async def relay(reader, writer):
        handlers.append(asyncio.current_task())
        relay_events.append(f'route: {await reader.readline()!r}')
        try:
            up_reader, up_writer = await asyncio.open_connection('127.0.0.1', upstream['port'])
        except OSError as e:
            relay_events.append(f'upstream: {type(e).__name__}')
            writer.write(f'ERR upstream {type(e).__name__}\n'.encode())
            writer.close()
            return
        up = asyncio.create_task(copy('c->s', reader, up_writer))
        down = asyncio.create_task(copy('s->c', up_reader, writer))
        done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        await asyncio.wait({up, down})
        relay_events.append(f'ended: c->s {ended(up)}, s->c {ended(down)}')
        for w in (writer, up_writer):
            w.close()

    relay_server = await asyncio.start_server(relay, '127.0.0.1', 0)
    port = relay_server.sockets[0].getsockname()[1]

    async def session(name, lines):
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        writer.write(b'to echo\n')
        for line in lines:
            writer.write(line)
            client_events.append(f'{name} got {await reader.readline()!r}')
        writer.write_eof()
        client_events.append(f'{name} after eof {await reader.read()!r}')
        writer.close()
        await writer.wait_closed()

    await session('half-close', [b'hello\n', b'world\n'])
    await session('forbidden', [b'one\n', b'DROP\n'])
    echo_server.close()
    await echo_server.wait_closed()
    await session('no upstream', [])
    await asyncio.gather(*handlers)
    relay_server.close()
    await relay_server.wait_closed()
    print('\n'.join(client_events + relay_events + echo_events))


asyncio.run(main())
