"""Bounded-concurrency fetcher with a Semaphore and per-request timeouts (asyncio 3.13), the reference for real-programs.test.ts."""
import asyncio


async def main():
    async def serve(reader, writer):
        line = (await reader.readline()).decode()
        delay = int(line.split('/')[-1])
        await asyncio.sleep(delay / 1000)
        writer.write(f'ok {delay}\n'.encode())
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(serve, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    limit = asyncio.Semaphore(3)
    in_flight = 0
    most = 0

    async def fetch(delay):
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        try:
            writer.write(f'GET /delay/{delay}\n'.encode())
            return (await reader.readline()).decode().strip()
        finally:
            writer.close()

    async def bounded(delay):
        nonlocal in_flight, most
        async with limit:
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await asyncio.wait_for(fetch(delay), 0.5)
            except TimeoutError:
                return 'timeout'
            finally:
                in_flight -= 1

    delays = [20, 5, 1500, 10, 30, 2000, 5, 25]
    results = await asyncio.gather(*(bounded(d) for d in delays))
    print(results)
    print('most in flight', most)
    server.close()
    server.close_clients()
    await server.wait_closed()


asyncio.run(main())
