/**
 * The child side of the fault suite's process tests: JSON-line commands on stdin, JSON-line
 * replies on stdout (Child in helpers.ts is the other side). Only child scripts import this:
 * it starts reading stdin at once.
 */
import * as readline from 'node:readline';
import { sleep } from '@loopkit/core';

const queued = [];
readline.createInterface({ input: process.stdin }).on('line', (line) => queued.push(JSON.parse(line)));

/** Reply with one JSON line. */
export function say(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** The next command; polled from the running loop, so the loop keeps turning meanwhile. */
export async function nextCommand() {
  while (queued.length === 0) await sleep(0.005);
  return queued.shift();
}

/** Run `main` as the loop's main task, close the loop and exit; a failure is replied as {"error"} with exit code 1. */
export async function runChild(loop, main) {
  try {
    await loop.runUntilComplete(main);
    loop.close();
  } catch (error) {
    say({ error: String(error?.stack ?? error) });
    process.exitCode = 1;
  }
  process.exit();
}
