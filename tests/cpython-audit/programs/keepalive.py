"""An HTTP/1.1 keep-alive server on start_server (asyncio), the reference for
real-programs-3.test.ts.

The server parses the request line and headers (readuntil of the blank line, under a small
limit), reads Content-Length bodies with readexactly and answers each request in order on the
same connection: pipelined requests sent in one write, `Connection: close`, a body cut short
by EOF, a header block over the limit (431), a malformed request line (400). The client side
writes raw requests and reads the responses with the same reader methods, one connection at a
time. The client's lines are printed, then the server's (their interleaving is the scheduler's).
"""
import asyncio

client_events, server_events = [], []


async def handle(reader, writer):
    peer = 'conn'
    served = 0
    while True:
        try:
            head = await reader.readuntil(b'\r\n\r\n')
        except asyncio.IncompleteReadError as e:
            server_events.append(f'server: eof after {served} requests, partial {e.partial!r}')
            break
        except asyncio.LimitOverrunError as e:
            server_events.append(f'server: header block over the limit ({type(e).__name__}, consumed {e.consumed})')
            writer.write(b'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            break
        request_line, *header_lines = head.decode('latin-1').split('\r\n')[:-2]
        parts = request_line.split(' ')
        if len(parts) != 3 or not parts[2].startswith('HTTP/'):
            server_events.append(f'server: bad request line {request_line!r}')
            writer.write(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            break
        method, path, _ = parts
        headers = {name.strip().lower(): value.strip() for name, value in (line.split(':', 1) for line in header_lines)}
        length = int(headers.get('content-length', '0'))
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError as e:
            server_events.append(f'server: body cut short: {e}')
            break
        served += 1
        server_events.append(f'server: {method} {path} body {body!r}')
        payload = f'{method} {path} {len(body)} #{served}'.encode()
        closing = headers.get('connection', '').lower() == 'close'
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n' % (len(payload), b'Connection: close\r\n' if closing else b''))
        writer.write(payload)
        await writer.drain()
        if closing:
            break
    writer.close()
    await writer.wait_closed()
    server_events.append('server: closed')
    done.release()


async def responses(name, reader):
    while True:
        status = await reader.readline()
        if not status:
            client_events.append(f'{name}: eof')
            return
        headers = (await reader.readuntil(b'\r\n\r\n')).decode().split('\r\n')[:-2]
        length = next(int(h.split(':')[1]) for h in headers if h.lower().startswith('content-length'))
        client_events.append(f'{name}: {status.decode().strip()} {await reader.readexactly(length)!r}')


async def exchange(port, name, data, eof=False):
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(data)
    if eof:
        writer.write_eof()
    await responses(name, reader)
    writer.close()
    await writer.wait_closed()
    await done.acquire()


async def main():
    global done
    done = asyncio.Semaphore(0)
    server = await asyncio.start_server(handle, '127.0.0.1', 0, limit=256)
    port = server.sockets[0].getsockname()[1]
    pipelined = (b'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'
                 b'POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello'
                 b'GET /c HTTP/1.1\r\nConnection: close\r\n\r\n'
                 b'GET /never HTTP/1.1\r\n\r\n')
    await exchange(port, 'pipelined', pipelined)
    await exchange(port, 'short body', b'PUT /d HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc', eof=True)
    await exchange(port, 'idle close', b'GET /e HTTP/1.1\r\n\r\nGET /f', eof=True)
    await exchange(port, 'huge header', b'GET /g HTTP/1.1\r\nX-Big: ' + b'y' * 400 + b'\r\n\r\n')
    await exchange(port, 'garbage', b'HELLO\r\n\r\n')
    server.close()
    await server.wait_closed()
    print('\n'.join(client_events + server_events))


asyncio.run(main())
