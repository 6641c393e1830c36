// Child process of two-copies.test.ts: loads two copies of @loopkit/core from the paths given
// (argv[2], argv[3]: folders holding each copy's package.json) and checks they share one loop
// world. Prints one JSON line of findings; the test asserts on them.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const load = (dir) => import(pathToFileURL(join(dir, 'dist', 'index.js')).href);
const A = await load(process.argv[2]);
const B = await load(process.argv[3]);
const found = { distinctCopies: A.Future !== B.Future };

const loop = new B.BaseEventLoop();
found.result = await loop.runUntilComplete(async () => {
  // A library built on copy A, called inside copy B's loop.
  found.runningLoopSeenByA = A.getRunningLoop() === loop;
  const fromA = new A.Future();
  found.futureBoundToRunningLoop = fromA.getLoop() === loop;
  const me = B.currentTask();
  found.currentTaskSeenByA = A.currentTask() === me && me !== null;
  setTimeout(() => fromA.setResult('set through copy A'), 5);
  const value = await fromA;

  // A task of loop B cancelled while it awaits copy A's sleep: it ends cancelled.
  const sleeper = loop.createTask(() => A.sleep(10));
  await B.sleep(0.01);
  found.allTasksSeenByA = A.allTasks().has(sleeper);
  sleeper.cancel();
  try {
    await sleeper;
  } catch (error) {
    found.cancelSeenByB = error instanceof B.CancelledError && error instanceof A.CancelledError;
  }
  found.sleeperCancelled = sleeper.cancelled();

  // Copy A's helpers take copy B's futures as futures (not as plain thenables).
  const [x, y] = await A.gather(loop.createTask(async () => 1), B.sleep(0.001, 2));
  found.gatherAcrossCopies = x + y;
  found.isFutureAcrossCopies = A.isFuture(loop.createFuture());
  return value;
});
loop.close();
found.runningLoopAfter = A._getRunningLoop();
console.log(JSON.stringify(found));
