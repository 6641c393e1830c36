/**
 * The loop-level subprocess interfaces (asyncio's SubprocessProtocol and
 * SubprocessTransport). A protocol sees, in this order: connectionMade(transport),
 * pipeDataReceived(fd, data) any number of times, pipeConnectionLost(fd, exc) once for each
 * pipe, then processExited() once, then connectionLost(null) once.
 */
import { NotImplementedError } from '../errors.js';
import { BaseProtocol } from '../protocols.js';
import { BaseTransport, type Transport } from '../transports.js';

export class SubprocessProtocol extends BaseProtocol {
  override connectionMade(_transport: SubprocessTransport): void {}

  /** The child wrote `data` to its stdout (fd 1) or stderr (fd 2). */
  pipeDataReceived(_fd: number, _data: Uint8Array): void {}

  /** The pipe of `fd` (0, 1 or 2) closed: `exc` is null, or the error it closed with. */
  pipeConnectionLost(_fd: number, _exc: unknown): void {}

  /** The child exited and every pipe closed: getReturncode() is its exit status. */
  processExited(): void {}
}

function notImplemented(self: object, method: string): NotImplementedError {
  return new NotImplementedError(`${self.constructor.name} does not implement ${method}()`);
}

export class SubprocessTransport extends BaseTransport {
  /** The child's process id (asyncio's get_pid()). */
  getPid(): number {
    throw notImplemented(this, 'getPid');
  }

  /** null while the child runs; its exit code, or minus the signal number that killed it. */
  getReturncode(): number | null {
    throw notImplemented(this, 'getReturncode');
  }

  /** The transport of the pipe to fd 0 (write) or from fd 1/2 (read), or null. */
  getPipeTransport(_fd: number): Transport | null {
    throw notImplemented(this, 'getPipeTransport');
  }

  /** Send `signal` (a name such as 'SIGINT', or a number) to the child (asyncio's send_signal()). */
  sendSignal(_signal: string | number): void {
    throw notImplemented(this, 'sendSignal');
  }

  /** Ask the child to stop: SIGTERM (asyncio's terminate()). */
  terminate(): void {
    throw notImplemented(this, 'terminate');
  }

  /** Kill the child: SIGKILL (asyncio's kill()). */
  kill(): void {
    throw notImplemented(this, 'kill');
  }
}
