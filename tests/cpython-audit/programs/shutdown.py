"""A graceful shutdown on SIGTERM (asyncio), the reference for real-programs-3.test.ts.

Workers of the usual kinds run until the program sends itself SIGTERM: one idle in a sleep,
one that cleans up when cancelled and re-raises, one that swallows the cancellation and
returns what it has, one whose shielded commit finishes though it is cancelled, one that
fails while cancelled, one that crashed before. The handler sets an Event; main cancels its
workers and gathers them with return_exceptions, printing what each ended with.
"""
import asyncio
import os
import signal


async def main():
    loop = asyncio.get_running_loop()
    events = []
    stop = asyncio.Event()
    gate = asyncio.Event()
    names = ('idle', 'cleanup', 'stubborn', 'committer', 'failing', 'crashed')
    started = {name: asyncio.Event() for name in names}

    async def idle():
        started['idle'].set()
        await asyncio.sleep(3600)

    async def cleanup():
        started['cleanup'].set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append('cleanup: closing')
            await asyncio.sleep(0)
            events.append('cleanup: closed')
            raise

    async def stubborn():
        started['stubborn'].set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return 'partial result'

    async def committer():
        async def commit():
            started['committer'].set()
            await gate.wait()
            events.append('commit: done')
            return 'committed'

        inner = asyncio.create_task(commit(), name='commit')
        try:
            return await asyncio.shield(inner)
        except asyncio.CancelledError:
            events.append('committer: cancelled, finishing the commit')
            return await inner

    async def failing():
        started['failing'].set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError('flush failed')

    async def crashed():
        started['crashed'].set()
        raise ConnectionError('peer went away')

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    workers = [asyncio.create_task(fn(), name=name)
               for name, fn in zip(names, (idle, cleanup, stubborn, committer, failing, crashed))]
    await asyncio.gather(*(started[name].wait() for name in names))
    os.kill(os.getpid(), signal.SIGTERM)
    await stop.wait()
    events.append(f'SIGTERM received, handler removed: {loop.remove_signal_handler(signal.SIGTERM)}')
    others = asyncio.all_tasks() - {asyncio.current_task()}
    events.append(f'pending: {", ".join(sorted(task.get_name() for task in others))}')
    for task in workers:
        task.cancel()
    gate.set()
    results = await asyncio.gather(*workers, return_exceptions=True)
    for task, result in zip(workers, results):
        shown = repr(result) if isinstance(result, str) else f'{type(result).__name__}: {result}'
        events.append(f'{task.get_name()}: {shown} (cancelled: {task.cancelled()})')
    events.append(f'left: {len(asyncio.all_tasks()) - 1}')
    print('\n'.join(events))


asyncio.run(main())
