"""The Python side of bench/sched.js, one case per process (run with /usr/bin/python3):

    sched_bench.py asyncio|uvloop <case letter> <n>

a: n call_soon, each scheduling the next; c: n tasks each awaiting sleep(0), through
gather; d: n futures created, given a result and awaited in one task; i: n tasks waiting on
an Event nobody sets, j: n tasks sleeping an hour (RSS). Prints one JSON line like
bench/harness.js: {ops, wall, cpu} after one warm-up run of a tenth of n
(BENCH_WARMUP_RUNS), or
{rss, rssBefore} in bytes.
"""
import asyncio
import gc
import json
import os
import sys
import time


def chain(n):
    loop = asyncio.new_event_loop()
    count = 0

    def step():
        nonlocal count
        count += 1
        if count < n:
            loop.call_soon(step)
        else:
            loop.stop()

    loop.call_soon(step)
    loop.run_forever()
    loop.close()


def tasks(n):
    async def body():
        await asyncio.sleep(0)

    async def main():
        await asyncio.gather(*[asyncio.ensure_future(body()) for _ in range(n)])

    asyncio.run(main())


def futures(n):
    async def main():
        loop = asyncio.get_running_loop()
        for i in range(n):
            fut = loop.create_future()
            fut.set_result(i)
            await fut

    asyncio.run(main())


def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def idle(n, how):
    async def main():
        gate = asyncio.Event()
        body = gate.wait if how == "event" else (lambda: asyncio.sleep(3600))
        gc.collect()
        before = rss()
        kept = [asyncio.ensure_future(body()) for _ in range(n)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        gc.collect()
        print(json.dumps({"rss": rss(), "rssBefore": before, "python": sys.version.split()[0]}), flush=True)
        os._exit(0)

    asyncio.run(main())


def timed(n, fn):
    for _ in range(int(os.environ.get("BENCH_WARMUP_RUNS", "1"))):
        fn(-(-n // 10))
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fn(n)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(json.dumps({"ops": n, "wall": wall, "cpu": cpu, "python": sys.version.split()[0]}))


if __name__ == "__main__":
    flavour, case, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if flavour == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    cases = {
        "a": lambda: timed(n, chain),
        "c": lambda: timed(n, tasks),
        "d": lambda: timed(n, futures),
        "i": lambda: idle(n, "event"),
        "j": lambda: idle(n, "sleep"),
    }
    cases[case]()
