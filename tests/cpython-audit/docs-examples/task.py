# asyncio-task.rst examples, run by Python 3.13.0: delays shortened (1 s -> 0.01 s and so on),
# clock times printed as <time>.
import asyncio, sys, threading, time

def now():
    time.strftime('%X')
    return '<time>'

async def say_after(delay, what):
    await asyncio.sleep(delay)
    print(what)

async def coroutines_sequential():
    print(f"started at {now()}")
    await say_after(0.02, 'hello')
    await say_after(0.04, 'world')
    print(f"finished at {now()}")

async def create_task():
    task1 = asyncio.create_task(say_after(0.02, 'hello'))
    task2 = asyncio.create_task(say_after(0.04, 'world'))
    print(f"started at {now()}")
    await task1
    await task2
    print(f"finished at {now()}")

async def task_group():
    async with asyncio.TaskGroup() as tg:
        task1 = tg.create_task(say_after(0.02, 'hello'))
        task2 = tg.create_task(say_after(0.04, 'world'))
        print(f"started at {now()}")
    print(f"finished at {now()}")

async def awaitables():
    async def nested():
        return 42
    print(await nested())
    task = asyncio.create_task(nested())
    print(await task)

async def terminate_task_group():
    class TerminateTaskGroup(Exception):
        """Exception raised to terminate a task group."""
    async def force_terminate_task_group():
        """Used to force termination of a task group."""
        raise TerminateTaskGroup()
    async def job(task_id, sleep_time):
        print(f'Task {task_id}: start')
        await asyncio.sleep(sleep_time)
        print(f'Task {task_id}: done')
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(job(1, 0.01))
            group.create_task(job(2, 0.2))
            await asyncio.sleep(0.05)
            group.create_task(force_terminate_task_group())
    except* TerminateTaskGroup:
        pass

async def sleep_display_date():
    loop = asyncio.get_running_loop()
    end_time = loop.time() + 0.05
    n = 0
    while True:
        n += 1
        if (loop.time() + 0.01) >= end_time:
            break
        await asyncio.sleep(0.01)
    print('displayed dates:', 'several' if n > 1 else n)

async def gather_factorial():
    async def factorial(name, number):
        f = 1
        for i in range(2, number + 1):
            print(f"Task {name}: Compute factorial({number}), currently i={i}...")
            await asyncio.sleep(0.01)
            f *= i
        print(f"Task {name}: factorial({number}) = {f}")
        return f
    L = await asyncio.gather(
        factorial("A", 2),
        factorial("B", 3),
        factorial("C", 4),
    )
    print(L)

async def eager_shield():
    async def something():
        await asyncio.sleep(0.02)
        return 'result'
    async def outer():
        return await asyncio.shield(something())
    t = asyncio.create_task(outer())
    await asyncio.sleep(0.005)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        print('outer cancelled; shielded task goes on')
    await asyncio.sleep(0.03)

async def timeout_example():
    async def long_running_task():
        await asyncio.sleep(3600)
    try:
        async with asyncio.timeout(0.01):
            await long_running_task()
    except TimeoutError:
        print("The long operation timed out, but we've handled it.")
    print("This statement will run regardless.")

async def timeout_reschedule():
    async def long_running_task():
        await asyncio.sleep(0.05)
        return 'done'
    try:
        async with asyncio.timeout(None) as cm:
            new_deadline = asyncio.get_running_loop().time() + 0.01
            cm.reschedule(new_deadline)
            await long_running_task()
    except TimeoutError:
        pass
    if cm.expired():
        print("Looks like we haven't finished on time.")

async def timeout_at():
    async def long_running_task():
        await asyncio.sleep(3600)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.01
    try:
        async with asyncio.timeout_at(deadline):
            await long_running_task()
    except TimeoutError:
        print("The long operation timed out, but we've handled it.")
    print("This statement will run regardless.")

async def wait_for():
    async def eternity():
        await asyncio.sleep(3600)
        print('yay!')
    try:
        await asyncio.wait_for(eternity(), timeout=0.01)
    except TimeoutError:
        print('timeout!')

async def wait_example():
    async def foo():
        return 42
    task = asyncio.create_task(foo())
    done, pending = await asyncio.wait({task})
    if task in done:
        print('task in done')

async def as_completed():
    async def delayed(delay, value):
        await asyncio.sleep(delay)
        return value
    ipv4_connect = asyncio.create_task(delayed(0.02, 'ipv4'))
    ipv6_connect = asyncio.create_task(delayed(0.01, 'ipv6'))
    async for earliest_connect in asyncio.as_completed([ipv4_connect, ipv6_connect]):
        reader = await earliest_connect
        print(reader)
        break
    tasks = [delayed(0.02, 'b'), delayed(0.01, 'a')]
    for coro in asyncio.as_completed(tasks):
        earliest_result = await coro
        print(earliest_result)

async def to_thread():
    def blocking_io():
        print(f"start blocking_io at {now()}")
        time.sleep(0.05)
        print(f"blocking_io complete at {now()}")
    print(f"start main at {now()}")
    await asyncio.gather(
        asyncio.to_thread(blocking_io),
        asyncio.sleep(0.01))
    print(f"finished main at {now()}")

async def run_coroutine_threadsafe():
    loop = asyncio.get_running_loop()
    def in_thread():
        coro = asyncio.sleep(0.01, result=3)
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        print('result from the thread:', future.result(timeout=5))
    await asyncio.to_thread(in_thread)

async def cancel_me():
    async def cancel_me():
        print('cancel_me(): before sleep')
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            print('cancel_me(): cancel sleep')
            raise
        finally:
            print('cancel_me(): after sleep')
    task = asyncio.create_task(cancel_me())
    await asyncio.sleep(0.01)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("main(): cancel_me is cancelled now")

NAMES = ['coroutines_sequential', 'create_task', 'task_group', 'awaitables', 'terminate_task_group',
         'sleep_display_date', 'gather_factorial', 'eager_shield', 'timeout_example', 'timeout_reschedule',
         'timeout_at', 'wait_for', 'wait_example', 'as_completed', 'to_thread', 'run_coroutine_threadsafe', 'cancel_me']
for name in sys.argv[1:] or NAMES:
    print(f'== {name}')
    asyncio.run(globals()[name]())
