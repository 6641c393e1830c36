# asyncio-protocol.rst "Examples", run by Python 3.13.0: server and client of each example in one
# program (port 0, printed as <port>), delays shortened.
import asyncio, socket, sys

class EchoServerProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        peername = transport.get_extra_info('peername')
        print('Connection from {}'.format('<peer>' if peername[0] == '127.0.0.1' else peername))
        self.transport = transport
    def data_received(self, data):
        message = data.decode()
        print('Data received: {!r}'.format(message))
        print('Send: {!r}'.format(message))
        self.transport.write(data)
        print('Close the client socket')
        self.transport.close()

class EchoClientProtocol(asyncio.Protocol):
    def __init__(self, message, on_con_lost):
        self.message = message
        self.on_con_lost = on_con_lost
    def connection_made(self, transport):
        transport.write(self.message.encode())
        print('Data sent: {!r}'.format(self.message))
    def data_received(self, data):
        print('Data received: {!r}'.format(data.decode()))
    def connection_lost(self, exc):
        print('The server closed the connection')
        self.on_con_lost.set_result(True)

async def tcp_echo():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: EchoServerProtocol(), '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        on_con_lost = loop.create_future()
        message = 'Hello World!'
        transport, protocol = await loop.create_connection(
            lambda: EchoClientProtocol(message, on_con_lost), '127.0.0.1', port)
        try:
            await on_con_lost
        finally:
            transport.close()

class EchoUDPServerProtocol(asyncio.DatagramProtocol):  # the docs have no base class: its close then fails on connection_lost
    def connection_made(self, transport):
        self.transport = transport
    def datagram_received(self, data, addr):
        message = data.decode()
        print('Received %r from %s' % (message, '<addr>'))
        print('Send %r to %s' % (message, '<addr>'))
        self.transport.sendto(data, addr)

class EchoUDPClientProtocol(asyncio.DatagramProtocol):
    def __init__(self, message, on_con_lost):
        self.message = message
        self.on_con_lost = on_con_lost
        self.transport = None
    def connection_made(self, transport):
        self.transport = transport
        print('Send:', self.message)
        self.transport.sendto(self.message.encode())
    def datagram_received(self, data, addr):
        print("Received:", data.decode())
        print("Close the socket")
        self.transport.close()
    def error_received(self, exc):
        print('Error received:', exc)
    def connection_lost(self, exc):
        print("Connection closed")
        self.on_con_lost.set_result(True)

async def udp_echo():
    print("Starting UDP server")
    loop = asyncio.get_running_loop()
    server, _ = await loop.create_datagram_endpoint(lambda: EchoUDPServerProtocol(), local_addr=('127.0.0.1', 0))
    port = server.get_extra_info('sockname')[1]
    try:
        on_con_lost = loop.create_future()
        message = "Hello World!"
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: EchoUDPClientProtocol(message, on_con_lost), remote_addr=('127.0.0.1', port))
        try:
            await on_con_lost
        finally:
            transport.close()
        await asyncio.sleep(0.02)
    finally:
        server.close()

class MyProtocol(asyncio.Protocol):
    transport = None
    def __init__(self, on_con_lost):
        self.on_con_lost = on_con_lost
    def data_received(self, data):
        print("Received:", data.decode())
        self.transport.close()
    def connection_lost(self, exc):
        self.on_con_lost.set_result(True)

async def existing_socket():
    loop = asyncio.get_running_loop()
    rsock, wsock = socket.socketpair()
    on_con_lost = loop.create_future()
    transport, protocol = await loop.create_connection(lambda: MyProtocol(on_con_lost), sock=rsock)
    protocol.transport = transport
    loop.call_soon(wsock.send, 'abc'.encode())
    try:
        await protocol.on_con_lost
    finally:
        transport.close()
        wsock.close()

class DateProtocol(asyncio.SubprocessProtocol):
    def __init__(self, exit_future):
        self.exit_future = exit_future
        self.output = bytearray()
        self.pipe_closed = False
        self.exited = False
    def pipe_connection_lost(self, fd, exc):
        self.pipe_closed = True
        self.check_for_exit()
    def pipe_data_received(self, fd, data):
        self.output.extend(data)
    def process_exited(self):
        self.exited = True
        self.check_for_exit()
    def check_for_exit(self):
        if self.pipe_closed and self.exited:
            self.exit_future.set_result(True)

async def subprocess_protocol():
    loop = asyncio.get_running_loop()
    code = 'import datetime; print("2026-12-07 09:00:00.000000")'
    exit_future = asyncio.Future(loop=loop)
    transport, protocol = await loop.subprocess_exec(lambda: DateProtocol(exit_future), sys.executable, '-c', code, stdin=None, stderr=None)
    await exit_future
    transport.close()
    data = bytes(protocol.output)
    print("Current date: %s" % data.decode('ascii').rstrip())

for name in sys.argv[1:] or ['tcp_echo', 'udp_echo', 'existing_socket', 'subprocess_protocol']:
    print(f'== {name}')
    asyncio.run(globals()[name]())
