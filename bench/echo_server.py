"""The Python echo servers of bench/echo.js and bench/echo-memory.js (run with /usr/bin/python3):

    echo_server.py asyncio|uvloop [--memory]

asyncio's Protocol API echo (as bench/echo-server.js's loopkit servers use ours), on
asyncio's own loop or on uvloop. Listens on 127.0.0.1 on a free port, prints "PORT <n>",
serves until SIGTERM. With --memory, each SIGUSR2 prints "MEM <rss bytes> -" after a full
collection.
"""
import asyncio
import gc
import os
import signal
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def memory_line():
    gc.collect()
    with open("/proc/self/statm") as statm:
        rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    print(f"MEM {rss} -", flush=True)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=1024)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    if "--memory" in sys.argv[2:]:
        loop.add_signal_handler(signal.SIGUSR2, memory_line)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await stop


if __name__ == "__main__":
    if sys.argv[1] == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main())
