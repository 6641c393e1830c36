"""STARTTLS line protocol (asyncio), the reference for real-programs-2.test.ts.

A plain-text greeting, STARTTLS upgrading both sides with StreamWriter.start_tls, data both
ways over TLS (200 kB up, 150 kB down), a clean close (close_notify) on the first connection
and an abort with no close_notify on the second. Usage: starttls.py CERTDIR both|server|client [PORT];
`server` prints `port N` first and serves the two connections; each side prints its own events.
"""
import asyncio
import hashlib
import os
import ssl
import sys

UP = bytes(i * 7 % 251 for i in range(200_000))
DOWN = bytes(i * 13 % 241 for i in range(150_000))


def digest(data):
    return hashlib.sha256(data).hexdigest()[:12]


def contexts(certdir):
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(os.path.join(certdir, 'server.pem'), os.path.join(certdir, 'server.key'))
    client = ssl.create_default_context(cafile=os.path.join(certdir, 'ca.pem'))
    return server, client


async def serve(server_ctx, events, port_ready):
    connections = 0
    done = asyncio.Event()

    async def handle(reader, writer):
        nonlocal connections
        connections += 1
        n = connections
        writer.write(b'220 ready\n')
        command = (await reader.readline()).decode().strip()
        events.append(f'server {n}: {command}')
        writer.write(b'220 go ahead\n')
        await writer.drain()
        await writer.start_tls(server_ctx)
        events.append(f"server {n}: upgraded {writer.get_extra_info('ssl_object').version()}")
        hello = (await reader.readline()).decode().strip()
        writer.write(f'250 {hello} over TLS\n'.encode())
        await writer.drain()
        if n == 1:
            size = int((await reader.readline()).decode().split()[1])
            data = await reader.readexactly(size)
            events.append(f'server {n}: got {len(data)} bytes {digest(data)}')
            writer.write(f'BLOB {len(DOWN)}\n'.encode() + DOWN)
            await writer.drain()
            events.append(f'server {n}: {(await reader.readline()).decode().strip()}')
        try:
            rest = await reader.read()
            events.append(f'server {n}: end {rest!r}')
        except Exception as error:
            events.append(f'server {n}: end {type(error).__name__}')
        writer.close()
        try:
            await writer.wait_closed()
        except Exception as error:
            events.append(f'server {n}: wait_closed {type(error).__name__}')
        if n == 2:
            done.set()

    server = await asyncio.start_server(handle, '127.0.0.1', 0)
    port_ready(server.sockets[0].getsockname()[1])
    await done.wait()
    server.close()
    await server.wait_closed()


async def client(port, client_ctx, events):
    for n in (1, 2):
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        events.append(f'client {n}: {(await reader.readline()).decode().strip()}')
        writer.write(b'STARTTLS\n')
        events.append(f'client {n}: {(await reader.readline()).decode().strip()}')
        await writer.start_tls(client_ctx, server_hostname='localhost')
        ssl_object = writer.get_extra_info('ssl_object')
        events.append(f"client {n}: upgraded {ssl_object.version()} peer {dict(x[0] for x in ssl_object.getpeercert()['subject'])['commonName']}")
        writer.write(f'HELLO {n}\n'.encode())
        events.append(f'client {n}: {(await reader.readline()).decode().strip()}')
        if n == 1:
            writer.write(f'DATA {len(UP)}\n'.encode() + UP)
            size = int((await reader.readline()).decode().split()[1])
            data = await reader.readexactly(size)
            events.append(f'client {n}: got {len(data)} bytes {digest(data)}')
            writer.write(b'QUIT\n')
            writer.close()
            await writer.wait_closed()
            events.append(f'client {n}: closed')
        else:
            writer.transport.abort()
            events.append(f'client {n}: aborted')


async def main():
    certdir, mode = sys.argv[1], sys.argv[2]
    server_ctx, client_ctx = contexts(certdir)
    server_events, client_events = [], []
    if mode == 'both':
        port = asyncio.get_running_loop().create_future()
        serving = asyncio.create_task(serve(server_ctx, server_events, port.set_result))
        await client(await port, client_ctx, client_events)
        await serving
    elif mode == 'server':
        await serve(server_ctx, server_events, lambda port: print(f'port {port}', flush=True))
    else:
        await client(int(sys.argv[3]), client_ctx, client_events)
    print('\n'.join(server_events + client_events))


asyncio.run(main())
