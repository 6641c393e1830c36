/**
 * The loopkit port of crawler.py: a fake site fetched level by level with a TaskGroup, each
 * page under its own `timeout()`; a group where one page fails (siblings cancelled, the
 * ExceptionGroup's shape), one where two fail together, and a whole crawl under a timeout
 * that expires. Returns crawler.py's lines. As there, the failing pages of a group fail
 * together when one shared Event opens, so the output does not depend on the machine's load.
 */
import { CancelledError, ConnectionResetError, Event, ExceptionGroup, TimeoutError, getRunningLoop, sleep, taskGroup, timeout } from 'loopkit';

const SITE: Record<string, [number | null, string[] | null]> = {
  '/': [0.01, ['/a', '/b', '/slow']],
  '/a': [0.02, ['/a/1', '/a/2']],
  '/b': [0.01, ['/b/1']],
  '/slow': [1.0, []],
  '/a/1': [0.01, []],
  '/a/2': [0.03, []],
  '/b/1': [0.02, []],
  '/broken': [null, null],
  '/bad': [null, null],
};
/** A failing group's pages fail together, this long after the group starts. */
const FAILURES_AFTER = 0.15;

/** The error's class as asyncio names it: loopkit throws RangeError where Python raises ValueError (API.md). */
const pythonName = (error: Error) => (error.name === 'RangeError' ? 'ValueError' : error.name);
const pyList = (links: string[]) => `[${links.map((link) => `'${link}'`).join(', ')}]`;

async function fetch(url: string, events: string[], failures: Event | null = null): Promise<string[]> {
  const [delay, links] = SITE[url]!;
  try {
    if (links === null) await failures!.wait();
    else await sleep(delay!);
  } catch (error) {
    if (error instanceof CancelledError) events.push(`cancelled ${url}`);
    throw error;
  }
  if (links === null) throw url === '/broken' ? new ConnectionResetError(`${url}: reset by peer`) : new RangeError(`${url}: bad page`);
  return links;
}

async function crawl(events: string[]): Promise<void> {
  const seen = new Set(['/']);
  let level = ['/'];
  for (let depth = 0; level.length > 0; depth++) {
    const results = new Map<string, string[] | 'timeout'>();
    const one = async (url: string) => {
      try {
        await timeout(0.3, async () => results.set(url, await fetch(url, events)));
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        results.set(url, 'timeout');
      }
    };
    await taskGroup(async (tg) => {
      for (const url of level) tg.createTask(() => one(url));
    });
    events.push(`depth ${depth}: ${level.map((url) => `${url} -> ${typeof results.get(url) === 'string' ? 'timeout' : pyList(results.get(url) as string[])}`).join(', ')}`);
    level = level.flatMap((url) => (results.get(url) === 'timeout' ? [] : (results.get(url) as string[]).filter((link) => !seen.has(link))));
    for (const link of level) seen.add(link);
  }
}

function shape(group: ExceptionGroup): string {
  return `${group.name}: ${group.message} [${group.exceptions.map((e) => `${pythonName(e as Error)}: ${(e as Error).message}`).join(', ')}]`;
}

async function failing(events: string[], urls: string[]): Promise<void> {
  const failures = new Event();
  getRunningLoop().callLater(FAILURES_AFTER, () => failures.set());
  try {
    await taskGroup(async (tg) => {
      for (const url of urls) tg.createTask(() => fetch(url, events, failures));
    });
  } catch (group) {
    if (!(group instanceof ExceptionGroup)) throw group;
    events.push(shape(group));
  }
}

export async function main(): Promise<string[]> {
  const events: string[] = [];
  await crawl(events);
  await failing(events, ['/b', '/broken', '/slow']);
  await failing(events, ['/broken', '/bad', '/slow']);
  try {
    await timeout(0.15, () =>
      taskGroup(async (tg) => {
        for (const url of ['/a', '/slow', '/a/2']) tg.createTask(() => fetch(url, events));
      }),
    );
  } catch (error) {
    if (!(error instanceof TimeoutError || error instanceof CancelledError)) throw error;
    events.push(`whole crawl: ${(error as Error).name}`);
  }
  return events;
}
