# asyncio-eventloop.rst "Examples", run by Python 3.13.0; delays shortened (1 s -> 0.02 s), dates printed as <date>.
import asyncio, datetime, functools, os, signal, socket, sys

def hello():
    def hello_world(loop):
        print('Hello World')
        loop.stop()
    loop = asyncio.new_event_loop()
    loop.call_soon(hello_world, loop)
    try:
        loop.run_forever()
    finally:
        loop.close()

def current_date():
    def display_date(end_time, loop):
        datetime.datetime.now()
        print('<date>')
        if (loop.time() + 0.02) < end_time:
            loop.call_later(0.02, display_date, end_time, loop)
        else:
            loop.stop()
    loop = asyncio.new_event_loop()
    end_time = loop.time() + 0.09
    loop.call_soon(display_date, end_time, loop)
    try:
        loop.run_forever()
    finally:
        loop.close()

def watch_fd():
    rsock, wsock = socket.socketpair()
    loop = asyncio.new_event_loop()
    def reader():
        data = rsock.recv(100)
        print("Received:", data.decode())
        loop.remove_reader(rsock)
        loop.stop()
    loop.add_reader(rsock, reader)
    loop.call_soon(wsock.send, 'abc'.encode())
    try:
        loop.run_forever()
    finally:
        rsock.close()
        wsock.close()
        loop.close()

def signals():
    def ask_exit(signame, loop):
        print("got signal %s: exit" % signame)
        loop.stop()
    async def main():
        loop = asyncio.get_running_loop()
        for signame in {'SIGINT', 'SIGTERM'}:
            loop.add_signal_handler(getattr(signal, signame), functools.partial(ask_exit, signame, loop))
        loop.call_later(0.02, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.sleep(3600)
    print("Event loop running for 1 hour, press Ctrl+C to interrupt.")
    print("pid <pid>: send SIGINT or SIGTERM to exit.")
    try:
        asyncio.run(main())
    except RuntimeError as e:
        print('RuntimeError:', e)

def executor():
    import concurrent.futures
    def blocking_io():
        with open('/dev/urandom', 'rb') as f:
            return f.read(100)
    def cpu_bound():
        return sum(i * i for i in range(10 ** 5))
    async def main():
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, blocking_io)
        print('default thread pool', len(result), 'bytes')
        with concurrent.futures.ThreadPoolExecutor() as pool:
            result = await loop.run_in_executor(pool, blocking_io)
            print('custom thread pool', len(result), 'bytes')
        with concurrent.futures.ThreadPoolExecutor() as pool:
            result = await loop.run_in_executor(pool, cpu_bound)
            print('custom pool', result)
    asyncio.run(main())

for name in sys.argv[1:] or ['hello', 'current_date', 'watch_fd', 'signals', 'executor']:
    print(f'== {name}')
    globals()[name]()
