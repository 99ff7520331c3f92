import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/domain/clock.ts';
import { type Duration, maxDurationMs, toMs } from '../../src/domain/duration.ts';
import { InvalidOptionError } from '../../src/domain/errors.ts';

describe('toMs', () => {
  it.each([0, 1, 250, 86_400_000])('takes the number %d as milliseconds', (ms) => {
    expect(toMs(ms, 'timeout')).toBe(ms);
  });

  it.each<[Duration, number]>([
    ['500ms', 500],
    ['0ms', 0],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['0.5h', 1_800_000],
    ['10 s' as Duration, 10_000],
    [' 5m ' as Duration, 300_000],
  ])('converts %j to %d ms', (value, ms) => {
    expect(toMs(value, 'delay')).toBe(ms);
  });

  it('rounds fractional milliseconds from strings', () => {
    expect(toMs('1.0004s', 'delay')).toBe(1000);
    expect(toMs('0.0005s', 'delay')).toBe(1);
  });

  it.each<[string, unknown]>([
    ['a negative number', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a unit it does not know', '5 parsecs'],
    ['a negative string', '-5s'],
    ['a bare number as a string', '500'],
    ['an empty string', ''],
    ['a unit without a number', 'ms'],
    ['a capitalised unit', '5M'],
    ['two durations', '1h30m'],
    ['null', null],
    ['an object', { ms: 5 }],
  ])('rejects %s with InvalidOptionError naming the option', (_label, value) => {
    let caught: unknown;
    try {
      toMs(value as Duration, 'jobs.timeout');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    const error = caught as InvalidOptionError;
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.option).toBe('jobs.timeout');
    expect(Object.is(error.value, value)).toBe(true);
    expect(error.message).toContain('jobs.timeout');
  });

  // BUG: the string branch does not check the parsed number is finite, so a
  // long digit string becomes Infinity, which the number branch rejects.
  it('rejects a string whose number overflows to Infinity', () => {
    const huge = `${'9'.repeat(400)}ms` as Duration;
    expect(() => toMs(huge, 'delay')).toThrow(InvalidOptionError);
  });
});

describe('the longest duration', () => {
  it('accepts 1000 years, the longest', () => {
    expect(toMs(maxDurationMs, 'keepCompleted')).toBe(maxDurationMs);
    expect(toMs('365250d', 'keepCompleted')).toBe(maxDurationMs);
  });

  it.each<[string, Duration]>([
    ['1e300 ms', 1e300],
    ['one ms over 1000 years', maxDurationMs + 1],
    ['a string of a million days', '1000000d'],
  ])('refuses %s: now plus it would be no valid time', (_label, value) => {
    expect(() => toMs(value, 'delay')).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', option: 'delay', message: expect.stringContaining('at most 1000 years') }),
    );
  });

  it('names NaN and Infinity as they are, not as null', () => {
    expect(() => toMs(Number.NaN, 'delay')).toThrow('Invalid delay: NaN.');
    expect(() => toMs(Number.POSITIVE_INFINITY, 'delay')).toThrow('Invalid delay: Infinity.');
  });
});

describe('systemClock timers', () => {
  afterEach(() => vi.useRealTimers());

  it('waits a duration longer than setTimeout can hold (24.8 days) in full, instead of firing at once', () => {
    vi.useFakeTimers();
    let fired = 0;
    systemClock.setTimer(30 * 86_400_000, () => fired++);
    vi.advanceTimersByTime(2 ** 31);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(30 * 86_400_000 - 2 ** 31 - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
  });

  it('cancels a long wait at any step', () => {
    vi.useFakeTimers();
    let fired = 0;
    const cancel = systemClock.setTimer(60 * 86_400_000, () => fired++);
    vi.advanceTimersByTime(40 * 86_400_000);
    cancel();
    vi.advanceTimersByTime(40 * 86_400_000);
    expect(fired).toBe(0);
  });
});
