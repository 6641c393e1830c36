"""Chat server with broadcast (asyncio 3.13), the reference for real-programs.test.ts: prints what each client received."""
import asyncio


async def main():
    members = {}

    def broadcast(text, sender=None):
        for writer in members:
            if writer is not sender:
                writer.write(text.encode())

    async def handle(reader, writer):
        name = (await reader.readline()).decode().strip()
        writer.write(f'welcome {name}\n'.encode())
        broadcast(f'* {name} joined\n')
        members[writer] = name
        try:
            async for line in reader:
                text = line.decode().strip()
                if text == '/quit':
                    break
                broadcast(f'{name}: {text}\n', writer)
        finally:
            del members[writer]
            broadcast(f'* {name} left\n')
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    got = []
    clients = {}

    async def join(name):
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        writer.write(f'{name}\n'.encode())
        clients[name] = (reader, writer)
        await expect(name, 1)

    async def expect(name, n):
        for _ in range(n):
            line = await asyncio.wait_for(clients[name][0].readline(), 5)
            got.append(f'{name} < {line.decode().rstrip()}')

    async def say(name, text):
        clients[name][1].write(f'{text}\n'.encode())
        await clients[name][1].drain()

    await join('alice')
    await join('bob')
    await expect('alice', 1)
    await join('carol')
    await asyncio.gather(expect('alice', 1), expect('bob', 1))
    await say('alice', 'hi all')
    await asyncio.gather(expect('bob', 1), expect('carol', 1))
    await say('bob', 'hey alice')
    await asyncio.gather(expect('alice', 1), expect('carol', 1))
    await say('carol', '/quit')
    got.append(f'carol eof {await clients["carol"][0].read() == b""}')
    await asyncio.gather(expect('alice', 1), expect('bob', 1))
    for name in ('alice', 'bob'):
        clients[name][1].close()
        await clients[name][1].wait_closed()
    server.close()
    await server.wait_closed()
    print('\n'.join(got))


asyncio.run(main())
