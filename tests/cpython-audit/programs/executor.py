"""Blocking work on threads mixed with cancellation (asyncio), the reference for
real-programs-3.test.ts.

to_thread jobs gathered with return_exceptions; as_completed with a timeout over a finished
job and one blocked on a gate; wait_for timing out a blocked job (the thread runs on until
its gate opens); a job queued behind a busy one-worker pool cancelled before it starts, so it
never runs. Gates are threading.Events the loop opens; no sleep synchronises anything.
"""
import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor


def square(n, ran):
    ran.append(n)
    return n * n


def fail(message):
    raise ValueError(message)


def wait_gate(gate):
    gate.wait(5)
    return 'released'


def shown(result):
    return f'{type(result).__name__}: {result}' if isinstance(result, Exception) else repr(result)


async def main():
    loop = asyncio.get_running_loop()
    ran = []
    results = await asyncio.gather(*(asyncio.to_thread(square, n, ran) for n in (1, 2, 3)),
                                   asyncio.to_thread(fail, 'bad input'), return_exceptions=True)
    print(f'gather: {", ".join(shown(r) for r in results)}')

    gate = threading.Event()
    quick = asyncio.ensure_future(asyncio.to_thread(square, 4, ran))
    await asyncio.wait([quick])
    blocked = asyncio.ensure_future(asyncio.to_thread(wait_gate, gate))
    try:
        for next_done in asyncio.as_completed([quick, blocked], timeout=0.1):
            print(f'as_completed: {await next_done!r}')
    except TimeoutError as e:
        print(f'as_completed: {type(e).__name__}, blocked done: {blocked.done()}')
    gate.set()
    print(f'blocked after the gate: {await blocked!r}')

    gate = threading.Event()
    job = asyncio.ensure_future(asyncio.to_thread(wait_gate, gate))
    try:
        await asyncio.wait_for(job, 0.05)
    except TimeoutError as e:
        print(f'wait_for: {type(e).__name__}, job cancelled: {job.cancelled()}')
    gate.set()

    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        busy = loop.run_in_executor(pool, wait_gate, gate)
        queued = loop.run_in_executor(pool, square, 5, ran)
        print(f'queued cancel: {queued.cancel()}')
        # The cancel reaches the pool's own future in a callback of the loop's next
        # iteration: let it run before the busy worker is freed, or the job may start.
        await asyncio.sleep(0)
        gate.set()
        print(f'busy: {await busy!r}, queued cancelled: {queued.cancelled()}')
    print(f'squares run: {sorted(ran)}')


asyncio.run(main())
