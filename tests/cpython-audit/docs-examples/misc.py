# asyncio-queue/sync/future/runner/subprocess/dev.rst examples, run by Python 3.13.0: delays
# shortened; the queue example's random sleeps are a fixed list (its sums printed to 2 places).
import asyncio, sys, time

async def queue_workers():
    async def worker(name, queue):
        while True:
            sleep_for = await queue.get()
            await asyncio.sleep(sleep_for)
            queue.task_done()
            print(f'{name} has slept for {sleep_for:.2f} seconds')
    queue = asyncio.Queue()
    total_sleep_time = 0
    for sleep_for in [0.05, 0.1, 0.7, 0.1, 0.15, 0.2]:
        total_sleep_time += sleep_for
        queue.put_nowait(sleep_for)
    tasks = []
    for i in range(3):
        task = asyncio.create_task(worker(f'worker-{i}', queue))
        tasks.append(task)
    started_at = time.monotonic()
    await queue.join()
    total_slept_for = time.monotonic() - started_at
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print('====')
    print(f'3 workers slept in parallel for {"<= total" if total_slept_for < total_sleep_time else total_slept_for} seconds')
    print(f'total expected sleep time: {total_sleep_time:.2f} seconds')

async def event():
    async def waiter(event):
        print('waiting for it ...')
        await event.wait()
        print('... got it!')
    event = asyncio.Event()
    waiter_task = asyncio.create_task(waiter(event))
    await asyncio.sleep(0.01)
    event.set()
    await waiter_task

async def lock_condition_semaphore():
    lock = asyncio.Lock()
    async with lock:
        print('locked:', lock.locked())
    print('locked:', lock.locked())
    cond = asyncio.Condition()
    async def consumer():
        async with cond:
            await cond.wait()
            print('consumer notified')
    t = asyncio.create_task(consumer())
    await asyncio.sleep(0)
    async with cond:
        cond.notify()
    await t
    sem = asyncio.Semaphore(10)
    async with sem:
        print('semaphore acquired:', sem.locked())

async def barrier():
    b = asyncio.Barrier(3)
    asyncio.create_task(b.wait())
    asyncio.create_task(b.wait())
    await asyncio.sleep(0)
    print(b)
    await b.wait()
    print(b)
    print("barrier passed")
    await asyncio.sleep(0)
    print(b)

async def future_set_after():
    async def set_after(fut, delay, value):
        await asyncio.sleep(delay)
        fut.set_result(value)
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.create_task(set_after(fut, 0.01, '... world'))
    print('hello ...')
    print(await fut)

def runner():
    async def main():
        await asyncio.sleep(0.01)
        print('done')
    with asyncio.Runner() as runner:
        runner.run(main())
        runner.run(main())
        print('loop closed:', runner.get_loop().is_closed())
    try:
        runner.get_loop()
    except RuntimeError as e:
        print('RuntimeError:', e)

async def subprocess_run():
    async def run(cmd):
        proc = await asyncio.create_subprocess_shell(
            cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await proc.communicate()
        print(f'[{cmd!r} exited with {proc.returncode}]')
        if stdout:
            print(f'[stdout]\n{stdout.decode()}')
        if stderr:
            print(f'[stderr]\n{stderr.decode()}')
    await run('ls /zzz')
    await asyncio.gather(run('ls /zzz'), run('sleep 0.05; echo "hello"'))

async def subprocess_get_date():
    code = 'import datetime; print("2026-12-07 09:00:00.000000")'
    proc = await asyncio.create_subprocess_exec(sys.executable, '-c', code, stdout=asyncio.subprocess.PIPE)
    data = await proc.stdout.readline()
    line = data.decode('ascii').rstrip()
    await proc.wait()
    print(f"Current date: {line}")

def dev_never_retrieved():
    async def bug():
        raise Exception("not consumed")
    async def main():
        asyncio.create_task(bug())
    asyncio.run(main())

NAMES = ['queue_workers', 'event', 'lock_condition_semaphore', 'barrier', 'future_set_after', 'runner',
         'subprocess_run', 'subprocess_get_date', 'dev_never_retrieved']
for name in sys.argv[1:] or NAMES:
    print(f'== {name}', flush=True)
    f = globals()[name]
    if asyncio.iscoroutinefunction(f):
        asyncio.run(f())
    else:
        f()
    sys.stdout.flush()
