/** Every loop class runs the conformance suite. */
import { BaseEventLoop, TestLoop } from '@loopkit/core';
import { ProactorEventLoop, UringEventLoop, UringProactor } from '@loopkit/proactor';
import { SelectorEventLoop } from '@loopkit/selector';
import { conformance } from './conformance/index.js';

conformance({ name: 'TestLoop', make: () => new TestLoop(), caps: { virtualTime: true, network: false, readiness: false } });
conformance({ name: 'BaseEventLoop', make: () => new BaseEventLoop(), caps: { virtualTime: false, network: false, readiness: false } });
conformance({ name: 'ProactorEventLoop', make: () => new ProactorEventLoop(), caps: { virtualTime: false, network: true, readiness: false } });
conformance({ name: 'SelectorEventLoop', make: () => new SelectorEventLoop(), caps: { virtualTime: false, network: true, readiness: true } });
if (UringProactor.problem() === null) conformance({ name: 'UringEventLoop', make: () => new UringEventLoop(), caps: { virtualTime: false, network: true, readiness: false } });
