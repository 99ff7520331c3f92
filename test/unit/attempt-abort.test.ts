import { describe, expect, it } from 'vitest';
import { JobCancelledError, TimeoutError } from '../../src/domain/errors.ts';
import { AttemptAbort } from '../../src/execution/attempt-abort.ts';

describe('AttemptAbort', () => {
  it('makes the signal on first use, and that signal aborts with the reason', () => {
    const abort = new AttemptAbort();
    const signal = abort.signal;
    expect(abort.signal).toBe(signal);
    const seen: unknown[] = [];
    signal.addEventListener('abort', () => seen.push(signal.reason));
    const reason = new TimeoutError('j1', 10);
    abort.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(seen).toEqual([reason]);
    expect(abort.aborted).toBe(true);
    expect(abort.reason).toBe(reason);
  });

  it('a signal first read after the abort is already aborted, with the same reason', () => {
    const abort = new AttemptAbort();
    const reason = new JobCancelledError('j1');
    abort.abort(reason);
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe(reason);
  });

  it('keeps the first reason and tells its listener once, at once when already aborted', () => {
    const abort = new AttemptAbort();
    const heard: unknown[] = [];
    abort.onAbort((reason) => heard.push(reason));
    const first = new JobCancelledError('j1');
    abort.abort(first);
    abort.abort(new TimeoutError('j1', 10));
    expect(heard).toEqual([first]);
    expect(abort.reason).toBe(first);
    const late: unknown[] = [];
    abort.onAbort((reason) => late.push(reason));
    expect(late).toEqual([first]);
  });

  it('is not aborted until told', () => {
    const abort = new AttemptAbort();
    expect(abort.aborted).toBe(false);
    expect(abort.reason).toBeUndefined();
    expect(abort.signal.aborted).toBe(false);
  });
});
