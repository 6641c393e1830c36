/** The conformance suite: every suite, run against one loop class. */
import { describe } from 'vitest';
import type { LoopUnderTest } from './context.js';
import { futureSuite } from './futures.js';
import { everydaySuite } from './everyday.js';
import { happyEyeballsSuite } from './happy-eyeballs.js';
import { helperSuite } from './helpers.js';
import { lockSuite } from './locks.js';
import { loopSuite } from './loop.js';
import { networkSuite } from './network.js';
import { queueSuite } from './queues.js';
import { runnerSuite } from './runners.js';
import { scopeSuite } from './scopes.js';
import { taskSuite } from './tasks.js';
import { streamSuite } from './streams.js';
import { subprocessSuite } from './subprocess.js';
import { transportSuite } from './transports.js';
import { tlsSuite } from './tls.js';

export type { LoopUnderTest, LoopCapabilities } from './context.js';

export function conformance(subject: LoopUnderTest): void {
  describe(`conformance: ${subject.name}`, () => {
    loopSuite(subject);
    futureSuite(subject);
    taskSuite(subject);
    helperSuite(subject);
    scopeSuite(subject);
    lockSuite(subject);
    queueSuite(subject);
    runnerSuite(subject);
    everydaySuite(subject);
    transportSuite(subject);
    streamSuite(subject);
    if (subject.caps.network) networkSuite(subject);
    if (subject.caps.network) happyEyeballsSuite(subject);
    if (subject.caps.network) tlsSuite(subject);
    // every loop with real time: BaseEventLoop runs it on the default it inherits
    if (!subject.caps.virtualTime) subprocessSuite(subject);
  });
}
