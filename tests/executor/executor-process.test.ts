// The default executor's hang and exit cases, each in a child process (child.mjs) under a
// time limit, on the selector and the proactor loop.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./child.mjs', import.meta.url));

/** Run one scenario; its JSON lines, after checking it returned and exited 0 within 15 s. */
function scenario(name: string, loop: string): Record<string, any>[] {
  return lines(name, loop).filter((line): line is Record<string, any> => typeof line !== 'string');
}

/** Every line the scenario printed: JSON ones parsed, others as text. */
function lines(name: string, loop: string): (string | Record<string, any>)[] {
  const result = spawnSync(process.execPath, [child, name, loop], { encoding: 'utf8', timeout: 15_000 });
  const printed = result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (line.startsWith('{') ? (JSON.parse(line) as Record<string, any>) : line));
  const how = `${name} on ${loop}: status ${result.status}, signal ${result.signal}\n${result.stdout}\n${result.stderr}`;
  expect(result.signal, `timed out (a hang): ${how}`).toBeNull();
  expect(result.status, how).toBe(0);
  expect(printed.at(-1), how).toEqual({ returned: true });
  return printed.slice(0, -1);
}

describe.each(['selector', 'proactor'])('the default executor on the %s loop', (loop) => {
  it('an argument that cannot be sent rejects naming it, and run() still returns (issue 16 item 1)', () => {
    const [unsendable, next] = scenario('unsendableArgument', loop);
    expect(unsendable.error).toMatchObject({ isError: true, name: 'TypeError', cause: { name: 'DataCloneError' } });
    expect(unsendable.error.message).toMatch(/^argument 1 after fn \(function <anonymous>\) cannot be sent to the worker thread: .*structured clone/);
    expect(next).toEqual({ value: 42 });
  });

  it('cancelling a queued job withdraws it; a running one finishes on the same worker', () => {
    const [cancelled, after] = scenario('cancelQueued', loop);
    expect(cancelled).toEqual({ runningCancelled: true, queuedCancelled: true });
    expect(after).toEqual({ queuedRan: 0, runningFinished: 1, after: { value: 1 } });
  });

  it('cancelling a job a worker has not picked up yet: it never runs', () => {
    const [outcome] = scenario('cancelDispatched', loop);
    expect(outcome).toEqual({ cancelled: true, ran: 0, after: { value: 0 } });
  });

  it('a worker that exits mid-job fails that job and is replaced; one that throws between jobs is reported, not fatal', () => {
    const [exited, returned, next] = scenario('workerDies', loop);
    expect(exited.error).toMatchObject({ isError: true, name: 'RuntimeError', cause: { message: 'worker exited with code: 3' } });
    expect(exited.error.message).toMatch(/exited \(code 3\) before fn returned/);
    expect(returned).toEqual({ value: 'returned before the throw' });
    expect(next).toEqual({ value: 42 });
  });

  it('shutdownDefaultExecutor(timeout) warns at the timeout, leaves the job running and refuses new default jobs (asyncio 3.13)', () => {
    const [shutdown, refused, finished] = scenario('shutdownTimeout', loop);
    expect(shutdown.warnings).toEqual(['The executor did not finishing joining its threads within 0.1 seconds.']);
    // It waited the timeout, not the job: the job runs until the child lets it end, after this.
    expect(shutdown.waitedMs).toBeGreaterThanOrEqual(90);
    expect(shutdown.slowDone).toBe(false);
    expect(refused.error).toMatchObject({ name: 'RuntimeError', message: 'Executor shutdown has been called' });
    expect(finished).toEqual({ slowFinished: 1 });
  });

  it("a job's console output is printed before the loop gets its result", () => {
    const expected = Array.from({ length: 20 }, (_, i) => [`worker ${i}`, { value: i }]).flat();
    expect(lines('workerOutput', loop)).toEqual(expected);
  });

  it('a later run() in a process that used the executor finds the same warm worker (issue 17)', () => {
    expect(scenario('warmWorker', loop)).toEqual([{ workerStartedBefore: true }]);
  });
});
