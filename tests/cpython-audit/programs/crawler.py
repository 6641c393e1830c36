"""A TaskGroup crawler (asyncio), the reference for real-programs-2.test.ts.

Fetches a small fake site level by level with a TaskGroup, each page under its own
asyncio.timeout (a slow page becomes `timeout`); then a group where one page fails (its
siblings cancelled, the ExceptionGroup's shape), one where two fail together, and a whole
crawl under a timeout that expires (TimeoutError, not an ExceptionGroup). Prints the events.

Its output must not depend on the machine's load: the failing pages of a group fail together
when one shared event opens (two sleeps of the same length, started in two task steps, may
fire in two loop iterations on a loaded machine, and then the first failure cancels the
second page instead of both joining the group), and every other race has 0.1 s or more to spare.
"""
import asyncio

SITE = {
    '/': (0.01, ['/a', '/b', '/slow']),
    '/a': (0.02, ['/a/1', '/a/2']),
    '/b': (0.01, ['/b/1']),
    '/slow': (1.0, []),
    '/a/1': (0.01, []),
    '/a/2': (0.03, []),
    '/b/1': (0.02, []),
    '/broken': (None, None),
    '/bad': (None, None),
}
FAILURES_AFTER = 0.15   # a failing group's pages fail together, this long after the group starts


async def fetch(url, events, failures=None):
    delay, links = SITE[url]
    try:
        if links is None:
            await failures.wait()
        else:
            await asyncio.sleep(delay)
    except asyncio.CancelledError:
        events.append(f'cancelled {url}')
        raise
    if links is None:
        raise ConnectionResetError(f'{url}: reset by peer') if url == '/broken' else ValueError(f'{url}: bad page')
    return links


async def crawl(events):
    seen, level, depth = {'/'}, ['/'], 0
    while level:
        results = {}

        async def one(url):
            try:
                async with asyncio.timeout(0.3):
                    results[url] = await fetch(url, events)
            except TimeoutError:
                results[url] = 'timeout'

        async with asyncio.TaskGroup() as tg:
            for url in level:
                tg.create_task(one(url))
        events.append(f'depth {depth}: ' + ', '.join(f'{url} -> {results[url]}' for url in level))
        level = [link for url in level if results[url] != 'timeout' for link in results[url] if link not in seen]
        seen.update(level)
        depth += 1


def shape(group):
    return f"{type(group).__name__}: {group.message} [{', '.join(f'{type(e).__name__}: {e}' for e in group.exceptions)}]"


async def failing(events, urls):
    failures = asyncio.Event()
    asyncio.get_running_loop().call_later(FAILURES_AFTER, failures.set)
    try:
        async with asyncio.TaskGroup() as tg:
            for url in urls:
                tg.create_task(fetch(url, events, failures))
    except* Exception as group:
        events.append(shape(group))


async def main():
    events = []
    await crawl(events)
    await failing(events, ['/b', '/broken', '/slow'])
    await failing(events, ['/broken', '/bad', '/slow'])
    try:
        async with asyncio.timeout(0.15):
            async with asyncio.TaskGroup() as tg:
                for url in ('/a', '/slow', '/a/2'):
                    tg.create_task(fetch(url, events))
    except (TimeoutError, asyncio.CancelledError) as error:
        # 3.11 lets a CancelledError out here (TaskGroup.__aexit__ loses the timeout's cancel);
        # 3.12 and 3.13 raise TimeoutError
        events.append(f'whole crawl: {type(error).__name__}')
    print('\n'.join(events))


asyncio.run(main())
