/**
 * The inspector `loopkit ps` opened closes only once no session is attached to it (closing
 * it under an attached session can crash Node): a child process with an open inspector
 * runs the close expression while a connection to the inspector's port is open, keeps
 * listening while it is, and closes after it goes.
 */
import { afterEach, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { closeExpression } from '../dist/ps/close-inspector.js';

const CHILD = `
const inspector = require('node:inspector');
inspector.open(0, '127.0.0.1');
console.log(new URL(inspector.url()).port);
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'url') console.log(String(inspector.url()));
  else eval(JSON.parse(line));
});
`;

const children: ChildProcess[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function start(): { child: ChildProcess; next: () => Promise<string> } {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const next = (): Promise<string> =>
    lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiters.push(resolve));
  return { child, next };
}

async function inspectorUrl(child: ChildProcess, next: () => Promise<string>): Promise<string> {
  child.stdin!.write('url\n');
  return await next();
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

it.skipIf(process.platform !== 'linux')('closes the inspector only after the last connection to it is gone', async () => {
  const { child, next } = start();
  const port = Number(await next());
  expect(port).toBeGreaterThan(0);
  const session = connect(port, '127.0.0.1');
  sockets.push(session);
  await once(session, 'connect');

  child.stdin!.write(`${JSON.stringify(closeExpression(port))}\n`);
  await sleep(600); // longer than the old blind 500 ms timer
  expect(await inspectorUrl(child, next)).toMatch(/^ws:\/\/127\.0\.0\.1:/);

  session.destroy();
  let url = '';
  for (let i = 0; i < 200 && url !== 'undefined'; i++) {
    url = await inspectorUrl(child, next);
    if (url !== 'undefined') await sleep(25);
  }
  expect(url).toBe('undefined');
  expect(child.exitCode).toBeNull();
});
