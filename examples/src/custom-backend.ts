/**
 * A program on the custom 'emitter' backend of emitter-backend.ts. Importing that module
 * registers the backend; LOOPKIT_BACKEND=emitter makes the policy choose it:
 *
 *   LOOPKIT_BACKEND=emitter node examples/dist/custom-backend.js
 */
import { Readable } from 'node:stream';
import { availableBackends, getEventLoop } from 'loopkit';
import { EmitterLoop } from './emitter-backend.js';
import { banner } from './common.js';

const loop = getEventLoop();
banner(loop);
if (!(loop instanceof EmitterLoop)) {
  console.log('Run with LOOPKIT_BACKEND=emitter to use the custom backend. Registered backends:');
  for (const b of availableBackends()) console.log(`  ${b.name}: ${b.available ? 'available' : `unavailable (${b.reason})`}`);
} else {
  const source = Readable.from(['alpha', 'beta', 'gamma']);
  const lines: string[] = [];
  const ended = loop.createFuture<void>();
  loop.addEmitterReader(source, 'data', (chunk: string) => lines.push(chunk));
  loop.addEmitterReader(source, 'end', () => ended.setResult());
  await loop.runUntilComplete(ended);
  console.log(`the emitter loop received: ${lines.join(', ')}`);
  loop.close();
}
