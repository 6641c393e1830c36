/**
 * An exception that leaves the loop's turn, as asyncio lets KeyboardInterrupt and SystemExit
 * out of a callback: JavaScript has no such exceptions, so a test makes the loop's exception
 * handling let one through.
 */
import type { AbstractEventLoop } from '@loopkit/core';

/** What `lettingThrough` lets out of the loop's turn (asyncio's KeyboardInterrupt). */
export class Interrupt extends Error {
  override name = 'Interrupt';
}

/**
 * `loop`, its exception handling letting an Interrupt through: one thrown by a callback (or a
 * protocol method) leaves the turn and ends runForever with it. Other reports go to the
 * loop's handler as before.
 */
export function lettingThrough<L extends AbstractEventLoop>(loop: L): L {
  const handle = loop.callExceptionHandler.bind(loop);
  loop.callExceptionHandler = (context) => {
    if (context.exception instanceof Interrupt) throw context.exception;
    handle(context);
  };
  return loop;
}
