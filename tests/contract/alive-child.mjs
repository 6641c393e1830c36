// Run by lifetime.test.ts: a loop that runs forever until a timer stops it, on the backend named
// by argv[2]; prints what happened. Without the loop holding the process, Node would exit
// (code 13, an unsettled top-level await) before "stopped".
import { ProactorEventLoop, newEventLoop } from 'loopkit';

const loop = process.argv[2] === 'proactor' ? new ProactorEventLoop() : newEventLoop();
loop.callLater(0.3, () => loop.stop());
await loop.runForever();
console.log('stopped');
if (process.argv[3] === 'close') loop.close();
