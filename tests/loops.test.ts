/**
 * Every loop class runs the conformance suite, through @loopkit/conformance as a backend
 * author would, on vitest. Capabilities are detected from each loop: TestLoop has virtual
 * time, the selector readiness, the proactor completions; network suites run on those with I/O.
 */
import { describe, test } from 'vitest';
import { BaseEventLoop, TestLoop } from '@loopkit/core';
import { runConformance } from '@loopkit/conformance';
import { ProactorEventLoop, UringEventLoop, UringProactor } from '@loopkit/proactor';
import { SelectorEventLoop } from '@loopkit/selector';

const vitest = { describe, test };

runConformance(() => new TestLoop(), { test: vitest });
runConformance(() => new BaseEventLoop(), { test: vitest });
runConformance(() => new ProactorEventLoop(), { test: vitest });
runConformance(() => new SelectorEventLoop(), { test: vitest });
if (UringProactor.problem() === null) runConformance(() => new UringEventLoop(), { test: vitest });
