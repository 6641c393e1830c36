"""A process supervisor (asyncio), the reference for real-programs-2.test.ts.

Children made with create_subprocess_exec, their stdout and stderr streamed line by line:
one that crashes twice and is restarted with a doubling back-off, one that ignores SIGTERM
and is killed after a grace period, one that dies of SIGTERM, one that kills itself with
SIGUSR1, and one still running when main returns, which asyncio.run's shutdown cancels and
its supervisor kills. Prints each child's events (stdout lines, stderr lines, exit), then the
supervisor's.
"""
import asyncio
import signal

FLAKY = 'echo start $1; echo warn $1 >&2; [ "$1" -lt 3 ] && exit 3; exit 0'
STUBBORN = 'trap "echo got TERM" TERM; echo ready; while :; do sleep 0.05; done'
POLITE = 'echo ready; exec sleep 30'
SUICIDAL = 'echo bye; kill -USR1 $$; sleep 5'
FOREVER = 'echo up; exec sleep 30'

events = []


async def stream(name, reader, lines):
    async for line in reader:
        lines.append(f'{name}: {line.decode().rstrip()}')


async def spawn(name, script, *args):
    return await asyncio.create_subprocess_exec('sh', '-c', script, name, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def watch(name, process, stopping=None):
    out, err = [], []
    readers = asyncio.gather(stream(f'{name} out', process.stdout, out), stream(f'{name} err', process.stderr, err))
    if stopping is not None:
        await stopping(process, out)
    code = await process.wait()
    await readers
    return out + err + [f'{name} exit {code}']


async def restart_on_crash():
    delay = 0.05
    for attempt in range(1, 6):
        process = await spawn('flaky', FLAKY, str(attempt))
        lines = await watch(f'flaky#{attempt}', process)
        events.extend(lines)
        if process.returncode == 0:
            break
        events.append(f'flaky restart in {delay}')
        await asyncio.sleep(delay)
        delay *= 2


def stop_after(timeout, grace):
    async def stopping(process, out):
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                out.append('grace expired: kill')
                process.kill()
    return stopping


async def forever():
    process = await spawn('forever', FOREVER)
    try:
        await process.wait()
    finally:
        process.kill()
        code = await process.wait()
        print(f'forever cleaned up, exit {code}')


async def main():
    await restart_on_crash()
    results = await asyncio.gather(
        watch('stubborn', await spawn('stubborn', STUBBORN), stop_after(0.3, 0.3)),
        watch('polite', await spawn('polite', POLITE), stop_after(0.3, 0.3)),
        watch('suicidal', await spawn('suicidal', SUICIDAL)),
    )
    for lines in results:
        events.extend(lines)
    events.append(f'SIGTERM {signal.SIGTERM.value} SIGKILL {signal.SIGKILL.value} SIGUSR1 {signal.SIGUSR1.value}')
    asyncio.create_task(forever())
    await asyncio.sleep(0.2)
    print('\n'.join(events))


asyncio.run(main())
