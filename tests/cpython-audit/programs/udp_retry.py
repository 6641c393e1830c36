"""UDP request/response with retries (asyncio 3.13), the reference for real-programs.test.ts: the server drops the first
request of every even id and never answers id 5."""
import asyncio


class Server(asyncio.DatagramProtocol):
    def __init__(self):
        self.seen = set()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        rid = int(data.decode().split()[1])
        first = rid not in self.seen
        self.seen.add(rid)
        if rid == 5 or (rid % 2 == 0 and first):
            return
        self.transport.sendto(f'ack {rid}'.encode(), addr)


class Client(asyncio.DatagramProtocol):
    def __init__(self):
        self.replies = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.replies.put_nowait(data.decode())


async def main():
    loop = asyncio.get_running_loop()
    server_tr, _ = await loop.create_datagram_endpoint(Server, local_addr=('127.0.0.1', 0))
    port = server_tr.get_extra_info('sockname')[1]
    client_tr, client = await loop.create_datagram_endpoint(Client, remote_addr=('127.0.0.1', port))
    for rid in range(1, 6):
        for attempt in range(1, 4):
            client_tr.sendto(f'req {rid}'.encode())
            try:
                reply = await asyncio.wait_for(client.replies.get(), 0.1)
                print(rid, 'attempts', attempt, reply)
                break
            except TimeoutError:
                pass
        else:
            print(rid, 'gave up after', attempt)
    client_tr.close()
    server_tr.close()


asyncio.run(main())
