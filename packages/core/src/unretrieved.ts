/**
 * "Future exception was never retrieved" / "Task exception was never retrieved".
 *
 * asyncio reports a failed future nobody looked at when it is freed, which CPython does as
 * soon as the last reference goes. V8 frees only when its garbage collector runs, which a
 * short program may never need: the report would vanish. So a failed *task* is also
 * reported, at the latest, when its loop closes (run() closes it). Each failure is
 * reported once, by whichever comes first; looking at the exception before either cancels it.
 * A task is held weakly meanwhile, so a long-running loop still frees (and reports) it early.
 */
import type { AbstractEventLoop, ExceptionContext } from './events.js';

export interface UnretrievedReport {
  readonly loop: AbstractEventLoop;
  readonly exception: unknown;
  readonly message: string;
  readonly sourceTraceback: string | null;
  /** the failed task, while it lives: the close-time report's `future` (asyncio's key) */
  readonly ref: WeakRef<object> | null;
  reported: boolean;
}

const collected = new FinalizationRegistry<UnretrievedReport>((report) => {
  pendingAtClose.get(report.loop)?.delete(report);
  send(report, undefined);
});

/** Per loop: the failed tasks still to report when it closes. */
const pendingAtClose = new WeakMap<AbstractEventLoop, Set<UnretrievedReport>>();

/** Watch `future`, which just failed; `untilClose`: report at its loop's close too (tasks). */
export function watchUnretrieved(
  future: object,
  loop: AbstractEventLoop,
  exception: unknown,
  message: string,
  sourceTraceback: string | null,
  untilClose: boolean,
): UnretrievedReport {
  const report: UnretrievedReport = {
    loop,
    exception,
    message,
    sourceTraceback,
    ref: untilClose ? new WeakRef(future) : null,
    reported: false,
  };
  collected.register(future, report, report);
  if (untilClose) {
    let pending = pendingAtClose.get(loop);
    if (pending === undefined) pendingAtClose.set(loop, (pending = new Set()));
    pending.add(report);
  }
  return report;
}

/** Someone looked at the exception: no report. */
export function forgetUnretrieved(report: UnretrievedReport): void {
  collected.unregister(report);
  if (report.ref !== null) pendingAtClose.get(report.loop)?.delete(report);
}

/** `loop` is closing: report every failed task of it whose exception nobody retrieved. */
export function reportUnretrievedAtClose(loop: AbstractEventLoop): void {
  const pending = pendingAtClose.get(loop);
  if (pending === undefined) return;
  pendingAtClose.delete(loop);
  for (const report of pending) {
    collected.unregister(report);
    send(report, report.ref!.deref());
  }
}

function send(report: UnretrievedReport, future: object | undefined): void {
  if (report.reported) return;
  report.reported = true;
  const context: ExceptionContext = { message: report.message, exception: report.exception };
  if (future !== undefined) context.future = future as ExceptionContext['future'];
  if (report.sourceTraceback) context.sourceTraceback = report.sourceTraceback;
  report.loop.callExceptionHandler(context);
}
