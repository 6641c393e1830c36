/**
 * The suites in the order they run, by the names `only`/`skip` take, each with the
 * capabilities it needs as a whole (finer needs are marked on the tests themselves).
 */
import { lacks, needsRealTime, type LoopUnderTest } from './context.js';
import { skipping } from './kit.js';
import { everydaySuite } from './everyday.js';
import { futureSuite } from './futures.js';
import { happyEyeballsSuite } from './happy-eyeballs.js';
import { helperSuite } from './helpers.js';
import { lockSuite } from './locks.js';
import { loopSuite } from './loop.js';
import { networkSuite } from './network.js';
import { queueSuite } from './queues.js';
import { runnerSuite } from './runners.js';
import { scopeSuite } from './scopes.js';
import { signalSuite, threadSuite } from './signals.js';
import { streamSuite } from './streams.js';
import { subprocessSuite } from './subprocess.js';
import { taskSuite } from './tasks.js';
import { sendfileSuite } from './sendfile.js';
import { tlsSuite } from './tls.js';
import { transportSuite } from './transports.js';

export const SUITES = [
  'loop',
  'futures',
  'tasks',
  'helpers',
  'scopes',
  'locks',
  'queues',
  'runners',
  'signals',
  'threads',
  'everyday',
  'transports',
  'streams',
  'network',
  'happyEyeballs',
  'tls',
  'sendfile',
  'subprocess',
] as const;

export type SuiteName = (typeof SUITES)[number];

type Suite = (subject: LoopUnderTest) => void;

/** `suite`, its tests skipped with the reason `reason(subject)` gives (null: they run). */
const gated = (suite: Suite, reason: (subject: LoopUnderTest) => string | null): Suite => (subject) => skipping(reason(subject), () => suite(subject));

export const SUITES_BY_NAME: Record<SuiteName, Suite> = {
  loop: loopSuite,
  futures: futureSuite,
  tasks: taskSuite,
  helpers: helperSuite,
  scopes: scopeSuite,
  locks: lockSuite,
  queues: queueSuite,
  runners: runnerSuite,
  signals: signalSuite,
  threads: threadSuite,
  everyday: everydaySuite,
  transports: transportSuite,
  streams: streamSuite,
  network: gated(networkSuite, (s) => lacks(s, 'network')),
  happyEyeballs: gated(happyEyeballsSuite, (s) => lacks(s, 'network')),
  tls: gated(tlsSuite, (s) => lacks(s, 'network')),
  sendfile: gated(sendfileSuite, (s) => lacks(s, 'network')),
  // Every loop with real time: BaseEventLoop runs it on the node:child_process default it inherits.
  subprocess: gated(subprocessSuite, (s) => lacks(s, 'subprocesses') ?? needsRealTime(s, 'child processes')),
};
