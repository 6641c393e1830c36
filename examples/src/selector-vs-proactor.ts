/**
 * Seed: the two types of event loop. The same program (a TCP echo through streams) runs
 * on a SelectorEventLoop (readiness: "this socket can be read", then a non-blocking recv)
 * and on a ProactorEventLoop (completions: "this recv finished, here are the bytes").
 * Setting LOOPKIT_BACKEND before newEventLoop() picks each one: the policy reads it every
 * time it makes a loop. Only the selector supports addReader.
 */
import { availableBackends, newEventLoop, NotImplementedError, openConnection, startServer, type AbstractEventLoop } from 'loopkit';

async function echoOnce(message: string): Promise<string> {
  const server = await startServer(
    async (reader, writer) => {
      writer.write(await reader.readline());
      await writer.drain();
      writer.close();
    },
    '127.0.0.1',
    0,
  );
  const { port } = (server.sockets[0] as { getsockname(): { port: number } }).getsockname();
  const [reader, writer] = await openConnection('127.0.0.1', port);
  writer.write(new TextEncoder().encode(`${message}\n`));
  const echoed = new TextDecoder().decode(await reader.readline()).trim();
  writer.close();
  await writer.waitClosed();
  server.close();
  await server.waitClosed();
  return echoed;
}

/** Whether the loop offers addReader/removeReader (asking about stdin, which is never watched here). */
function supportsReadiness(loop: AbstractEventLoop): boolean {
  try {
    loop.removeReader(0);
    return true;
  } catch (error) {
    if (error instanceof NotImplementedError) return false;
    throw error;
  }
}

for (const name of ['selector', 'proactor']) {
  const backend = availableBackends().find((b) => b.name === name);
  if (!backend?.available) {
    console.log(`${name}: unavailable here (${backend?.reason ?? 'not registered'})`);
    continue;
  }
  process.env.LOOPKIT_BACKEND = name;
  const loop = newEventLoop();
  const echoed = await loop.runUntilComplete(() => echoOnce(`hello from ${loop.constructor.name}`));
  console.log(`${name}: ${loop.constructor.name} echoed "${echoed}"; addReader: ${supportsReadiness(loop) ? 'yes' : 'no (NotImplementedError)'}`);
  loop.close();
}
