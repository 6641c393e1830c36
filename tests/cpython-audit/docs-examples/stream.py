# asyncio-stream.rst "Examples", run by Python 3.13.0: server and client in one program (port 0),
# the HTTP headers example against a small local HTTP server.
import asyncio, socket, sys, urllib.parse

async def tcp_echo_client(message, port):
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    print(f'Send: {message!r}')
    writer.write(message.encode())
    await writer.drain()
    data = await reader.read(100)
    print(f'Received: {data.decode()!r}')
    print('Close the connection')
    writer.close()
    await writer.wait_closed()

async def handle_echo(reader, writer):
    data = await reader.read(100)
    message = data.decode()
    addr = writer.get_extra_info('peername')
    print(f"Received {message!r} from {'<addr>' if addr[0] == '127.0.0.1' else addr!r}")
    print(f"Send: {message!r}")
    writer.write(data)
    await writer.drain()
    print("Close the connection")
    writer.close()
    await writer.wait_closed()

async def tcp_echo():
    server = await asyncio.start_server(handle_echo, '127.0.0.1', 0)
    addrs = ', '.join(str(sock.getsockname()[0]) for sock in server.sockets)
    print(f'Serving on {addrs}')
    async with server:
        await tcp_echo_client('Hello World!', server.sockets[0].getsockname()[1])

async def http_server(reader, writer):
    while (await reader.readline()) not in (b'\r\n', b''):
        pass
    writer.write(b'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok')
    await writer.drain()
    writer.close()
    await writer.wait_closed()

async def print_http_headers(url):
    url = urllib.parse.urlsplit(url)
    if url.scheme == 'https':
        reader, writer = await asyncio.open_connection(url.hostname, 443, ssl=True)
    else:
        reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
    query = (
        f"HEAD {url.path or '/'} HTTP/1.0\r\n"
        f"Host: {url.hostname}\r\n"
        f"\r\n"
    )
    writer.write(query.encode('latin-1'))
    while True:
        line = await reader.readline()
        if not line:
            break
        line = line.decode('latin1').rstrip()
        if line:
            print(f'HTTP header> {line}')
    writer.close()
    await writer.wait_closed()

async def http_headers():
    server = await asyncio.start_server(http_server, '127.0.0.1', 0)
    async with server:
        await print_http_headers(f'http://127.0.0.1:{server.sockets[0].getsockname()[1]}/path')

async def wait_for_data():
    loop = asyncio.get_running_loop()
    rsock, wsock = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=rsock)
    loop.call_soon(wsock.send, 'abc'.encode())
    data = await reader.read(100)
    print("Received:", data.decode())
    writer.close()
    await writer.wait_closed()
    wsock.close()

for name in sys.argv[1:] or ['tcp_echo', 'http_headers', 'wait_for_data']:
    print(f'== {name}')
    asyncio.run(globals()[name]())
