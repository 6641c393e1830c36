// One loopkit loop's side of `pnpm bench:subprocess`: the same two cases as
// subprocess-node.js, through createSubprocessExec and Process streams, on the loop the
// `loopkit` package's newEventLoop() gives: `default` is the policy's own choice, a
// backend name (selector, proactor, uring) is chosen as a user chooses one, LOOPKIT_BACKEND.
// Usage: node subprocess-loopkit.js default|selector|proactor|uring spawn|cat <n>
const [, , kind, kase, arg] = process.argv;
const n = Number(arg);
// The policy reads LOOPKIT_BACKEND each time it makes a loop.
if (kind === 'default') delete process.env.LOOPKIT_BACKEND;
else process.env.LOOPKIT_BACKEND = kind;
const { createSubprocessExec, DEVNULL, newEventLoop, PIPE } = await import('loopkit');

async function spawns() {
  for (let i = 0; i < n; i++) {
    const proc = await createSubprocessExec('/bin/true', [], { stdin: DEVNULL, stdout: DEVNULL, stderr: DEVNULL });
    await proc.wait();
  }
}

async function cat() {
  const chunk = Buffer.alloc(64 * 1024, 120);
  const proc = await createSubprocessExec('/bin/cat', [], { stdin: PIPE, stdout: PIPE, stderr: DEVNULL });
  const reading = (async () => {
    let got = 0;
    for (;;) {
      const data = await proc.stdout.read(256 * 1024);
      if (data.length === 0) return got;
      got += data.length;
    }
  })();
  for (let i = 0; i < n * 16; i++) {
    proc.stdin.write(chunk);
    await proc.stdin.drain();
  }
  proc.stdin.close();
  const got = await reading;
  await proc.wait();
  if (got !== n * 1024 * 1024) throw new Error(`cat returned ${got} bytes`);
}

const loop = newEventLoop();
const run = kase === 'spawn' ? spawns : cat;
const seconds = await loop.runUntilComplete(async () => {
  await run(); // warm-up
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
});
loop.close();
console.log(JSON.stringify({ rate: n / seconds }));
