/**
 * The kit itself: a broken loop fails with the rule it breaks, skips say which capability is
 * missing, the caller's options narrow and select, and node:test (the default runner) runs it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BaseEventLoop, RuntimeError, TestLoop, type AbstractEventLoop } from '@loopkit/core';
import { RuleViolation, runConformance, type ConformanceOptions } from '@loopkit/conformance';
import { LateTimersLoop, LifoLoop } from './fixtures/broken-loop.mjs';

interface Registered {
  name: string;
  fn: () => Promise<void>;
  skip?: string;
  timeout?: number;
}

/** Register the suite with a runner that only records, so a test can run what it registered. */
function collect(make: () => AbstractEventLoop, options: Omit<ConformanceOptions, 'test'> = {}): Registered[] {
  const tests: Registered[] = [];
  runConformance(make, {
    ...options,
    test: {
      describe: (_name, body) => body(),
      test: (name: string, opts: { skip?: string; timeout?: number }, fn: () => Promise<void>) => tests.push({ name, fn, ...opts }),
    },
  });
  return tests;
}

const ORDER_RULE = 'callbacks ready when an iteration starts must run in that iteration, in callSoon order, before any added during it';

describe('@loopkit/conformance', () => {
  it('a loop that runs callbacks out of callSoon order fails with the rule it breaks and why', async () => {
    const [broken] = collect(() => new LifoLoop(), { only: [/runs callbacks in callSoon order/] });
    const error = await broken!.fn().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RuleViolation);
    expect((error as Error).message).toContain(`asyncio rule: ${ORDER_RULE}`);
    expect((error as Error).message).toContain("why it failed: AssertionError: expected [ 'b', 'a' ] to equal [ 'a', 'b' ]");
    // The same test passes on the loop the broken one derives from: the failure is the loop's.
    const [healthy] = collect(() => new BaseEventLoop(), { only: [/runs callbacks in callSoon order/] });
    await healthy!.fn();
  });

  it('a skip says which capability the loop lacks and why', () => {
    const network = collect(() => new TestLoop(), { only: ['network'] });
    expect(network.length).toBeGreaterThan(10);
    for (const t of network) expect(t.skip).toBe("skipped: the loop has no network (createServer is core's default, which raises NotImplementedError)");
    const subprocess = collect(() => new TestLoop(), { only: ['subprocess'] });
    expect(subprocess.every((t) => t.skip === "skipped: the loop's time is virtual (advance()), and child processes run in real time")).toBe(true);
    const readiness = collect(() => new BaseEventLoop(), { only: [/SIGCHLD/] });
    expect(readiness.map((t) => t.skip)).toEqual(['skipped: the loop has no readiness (addReader raised NotImplementedError)']);
  });

  it('capabilities can be turned off, never on', () => {
    const off = collect(() => new BaseEventLoop(), { only: ['subprocess'], capabilities: { subprocesses: false } });
    expect(off.length).toBeGreaterThan(10);
    expect(off.every((t) => t.skip === "skipped: the loop has no subprocesses (turned off by the caller's capabilities option)")).toBe(true);
    expect(() => collect(() => new TestLoop(), { capabilities: { network: true } })).toThrow(/capabilities\.network: the loop has no network .*can only turn capabilities off/);
    expect(() => collect(() => new TestLoop(), { capabilities: { sockets: false } as never })).toThrow(/unknown capability "sockets"/);
  });

  it('only and skip select suites by name and tests by pattern', () => {
    const all = collect(() => new TestLoop());
    const futures = collect(() => new TestLoop(), { only: ['futures'] });
    expect(futures.length).toBeGreaterThan(5);
    expect(futures.length).toBeLessThan(all.length);
    const skipped = collect(() => new TestLoop(), { only: ['futures', 'locks'], skip: ['locks', /thenable/] });
    const skips = new Set(skipped.map((t) => t.skip));
    expect(skips).toEqual(new Set([undefined, "skipped: the caller's skip option names the locks suite", "skipped: the caller's skip option (/thenable/)"]));
    expect(() => collect(() => new TestLoop(), { only: ['sockets' as never] })).toThrow(/unknown suite "sockets"; the suites are loop, futures/);
  });

  it('a test its runner timed out and left running ends when the next test starts, which then runs on its own', async () => {
    const [hung] = collect(() => new LateTimersLoop(), { only: [/waits for every task and gives the body result/] });
    const [next] = collect(() => new BaseEventLoop(), { only: [/createTask after the group finished throws RuntimeError/] });
    const hungOutcome = hung!.fn().then(
      () => null,
      (e: unknown) => e,
    );
    // Left running, as a runner's timeout leaves a test: its loop sleeps on a timer an hour away.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await next!.fn();
    const error = await hungOutcome;
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/Event loop stopped before Future completed/);
  });

  it('every test gets a timeout: its own, else the option (20 s by default)', () => {
    const timeouts = (options: Omit<ConformanceOptions, 'test'>) => new Set(collect(() => new BaseEventLoop(), { only: ['subprocess'], ...options }).map((t) => t.timeout));
    expect(timeouts({})).toEqual(new Set([20_000, 90_000]));
    expect(timeouts({ timeout: 5000 })).toEqual(new Set([5000, 90_000]));
    expect(() => collect(() => new TestLoop(), { timeout: 0 })).toThrow(/timeout must be a positive whole number/);
  });

  it('runs on node:test by default: passes, skips with their reasons, and the broken loop fails with its rule', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/node-test.mjs', import.meta.url));
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--expose-gc', '--test', '--test-reporter=tap', fixture], { timeout: 60_000 }, (error, out) =>
        resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stdout: out }),
      );
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(/# pass [1-9]\d*\n/);
    expect(stdout).toContain('# fail 1\n');
    expect(stdout).toContain("# SKIP skipped: the loop has no network (createServer is core's default, which raises NotImplementedError)");
    expect(stdout).toContain(`asyncio rule: ${ORDER_RULE}`);
  });
});
