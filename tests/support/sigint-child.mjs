/**
 * The child side of tests/sigint.test.ts: a run() that the parent interrupts with real
 * SIGINTs. It prints what it saw, one line at a time; `ready` means run()'s main task is
 * waiting, `cleaning` that the first SIGINT reached it as CancelledError.
 */
import { CancelledError, KeyboardInterrupt, run, sleep } from '@loopkit/core';

const mode = process.argv[2];
const say = (line) => process.stdout.write(`${line}\n`);

async function main() {
  say('ready');
  try {
    await sleep(60);
    return 'slept';
  } catch (error) {
    if (!(error instanceof CancelledError)) throw error;
    say('cleaning');
    if (mode === 'propagate' || mode === 'uncaught') throw error;
    if (mode === 'twice') await sleep(60); // a cleanup that hangs: the second Ctrl-C ends it
    return 'cleaned up';
  }
}

if (mode === 'uncaught') {
  await run(main); // nobody catches the KeyboardInterrupt
} else if (mode === 'listener') {
  // A program with its own SIGINT listener keeps it: run() leaves SIGINT alone.
  let interrupted = false;
  process.on('SIGINT', () => {
    interrupted = true;
    say('own listener');
  });
  const result = await run(async () => {
    say('ready');
    while (!interrupted) await sleep(0.01);
    return 'main ran on';
  });
  say(`run returned ${result}`);
  process.exit(0);
} else {
  try {
    say(`run returned ${await run(main)}`);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.name : String(error?.cause ?? null);
    say(`run rejected ${error?.name} ${error instanceof KeyboardInterrupt} cause=${cause}`);
  }
  say(`SIGINT listeners after run: ${process.listenerCount('SIGINT')}`);
}
