import { describe, expect, it } from 'vitest';
import { type BackoffOption, backoffDelay, defaultBackoff, validateBackoff } from '../../src/domain/backoff.ts';
import { InvalidOptionError, isJobsmithError } from '../../src/domain/errors.ts';

const noJitter = () => 0;
const almostOne = () => 0.9999999999;
const delays = (option: BackoffOption, attempts: number, random: () => number = noJitter): number[] =>
  Array.from({ length: attempts }, (_, i) => backoffDelay(option, i + 1, new Error('boom'), random));

/** Runs `fn` and returns the InvalidOptionError it throws; fails the test otherwise. */
function invalidOption(fn: () => unknown): InvalidOptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(isJobsmithError(error, 'INVALID_OPTION')).toBe(true);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError, but nothing was thrown');
}

describe('backoffDelay', () => {
  it("'none' and { type: 'none' } retry at once", () => {
    expect(delays('none', 3)).toEqual([0, 0, 0]);
    expect(delays({ type: 'none' }, 3)).toEqual([0, 0, 0]);
  });

  it('fixed waits the same delay every time', () => {
    expect(delays({ type: 'fixed', delay: 250 }, 4)).toEqual([250, 250, 250, 250]);
    expect(delays({ type: 'fixed', delay: '2s' }, 2)).toEqual([2000, 2000]);
  });

  it('linear waits delay × attempt', () => {
    expect(delays({ type: 'linear', delay: 100 }, 5)).toEqual([100, 200, 300, 400, 500]);
  });

  it('exponential waits delay × 2^(attempt − 1)', () => {
    expect(delays({ type: 'exponential', delay: 100 }, 6)).toEqual([100, 200, 400, 800, 1600, 3200]);
    expect(delays({ type: 'exponential', delay: '1s' }, 3)).toEqual([1000, 2000, 4000]);
  });

  it('caps every delay at max', () => {
    expect(delays({ type: 'exponential', delay: 100, max: 500 }, 6)).toEqual([100, 200, 400, 500, 500, 500]);
    expect(delays({ type: 'linear', delay: '1m', max: '150s' }, 4)).toEqual([60_000, 120_000, 150_000, 150_000]);
    expect(delays({ type: 'fixed', delay: 1000, max: 10 }, 1)).toEqual([10]);
  });

  it('caps at 1 h when no max is given', () => {
    expect(backoffDelay({ type: 'exponential', delay: '1s' }, 30, null, noJitter)).toBe(3_600_000);
    expect(backoffDelay({ type: 'linear', delay: '1h' }, 5, null, noJitter)).toBe(3_600_000);
  });

  it('stays at max for attempt counts where 2^n overflows', () => {
    expect(backoffDelay({ type: 'exponential', delay: 1, max: '5m' }, 2000, null, noJitter)).toBe(300_000);
  });

  it('jitter takes off nothing when random() is 0', () => {
    expect(delays({ type: 'exponential', delay: 1000, jitter: 0.5 }, 3, noJitter)).toEqual([1000, 2000, 4000]);
  });

  it('jitter takes off up to (but not quite) the full fraction when random() approaches 1', () => {
    // 1000 − 1000 × 0.5 × 0.9999999999 = 500.00000005 → 500
    expect(delays({ type: 'exponential', delay: 1000, jitter: 0.5 }, 3, almostOne)).toEqual([500, 1000, 2000]);
    expect(backoffDelay({ type: 'fixed', delay: 1000, jitter: 1 }, 1, null, almostOne)).toBe(0);
  });

  it('jitter is applied after the cap', () => {
    expect(backoffDelay({ type: 'exponential', delay: 1000, max: 3000, jitter: 0.5 }, 5, null, almostOne)).toBe(1500);
  });

  it('jitter keeps every delay within [capped × (1 − jitter), capped]', () => {
    const spec = { type: 'linear', delay: 300, jitter: 0.25 } as const;
    for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.9999999999]) {
      const ms = backoffDelay(spec, 2, null, () => r);
      expect(ms).toBeGreaterThanOrEqual(450);
      expect(ms).toBeLessThanOrEqual(600);
      expect(Number.isInteger(ms)).toBe(true);
    }
  });

  it('uses Math.random when no random is injected, within the jitter bounds', () => {
    for (let i = 0; i < 50; i++) {
      const ms = backoffDelay(defaultBackoff, 1, null);
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThanOrEqual(1000);
    }
  });

  it('the default is 1 s, 2 s, 4 s … capped at 1 h, with 10% jitter', () => {
    expect(delays(defaultBackoff, 4)).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelay(defaultBackoff, 1, null, almostOne)).toBe(900);
    expect(backoffDelay(defaultBackoff, 50, null, noJitter)).toBe(3_600_000);
  });

  it('a backoff function gets the attempt and the error, and its value is used as is', () => {
    const seen: Array<[number, unknown]> = [];
    const error = new Error('rate limited');
    const fn = (attempt: number, thrown: unknown) => {
      seen.push([attempt, thrown]);
      return attempt * 7;
    };
    expect(backoffDelay(fn, 3, error, almostOne)).toBe(21);
    expect(seen).toEqual([[3, error]]);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('a backoff function returning %s is rejected as backoff()', (bad) => {
    const error = invalidOption(() => backoffDelay(() => bad, 1, null));
    expect(error.option).toBe('backoff()');
    expect(error.details).toMatchObject({ option: 'backoff()' });
    expect(Object.is(error.value, bad)).toBe(true);
  });
});

describe('validateBackoff', () => {
  it.each<BackoffOption>([
    'none',
    { type: 'none' },
    { type: 'fixed', delay: 0 },
    { type: 'linear', delay: '5s', max: '1m', jitter: 0 },
    { type: 'exponential', delay: 100, jitter: 1 },
    defaultBackoff,
    () => 5,
  ])('accepts %o', (option) => {
    expect(() => validateBackoff(option)).not.toThrow();
  });

  it.each<[string, unknown, string]>([
    ['jitter above 1', { type: 'fixed', delay: 100, jitter: 1.5 }, 'backoff.jitter'],
    ['negative jitter', { type: 'fixed', delay: 100, jitter: -0.1 }, 'backoff.jitter'],
    ['NaN jitter', { type: 'fixed', delay: 100, jitter: Number.NaN }, 'backoff.jitter'],
    ['a negative delay', { type: 'fixed', delay: -5 }, 'backoff.delay'],
    ['a missing delay', { type: 'linear' }, 'backoff.delay'],
    ['a malformed delay', { type: 'linear', delay: 'soon' }, 'backoff.delay'],
    ['a malformed max', { type: 'exponential', delay: 100, max: '1 week' }, 'backoff.max'],
    ['an unknown type', { type: 'fibonacci', delay: 100 }, 'backoff.type'],
    ['a string that is not none', 'exponential', 'backoff'],
    ['null', null, 'backoff'],
    ['a number', 1000, 'backoff'],
  ])('rejects %s, naming %s', (_label, option, name) => {
    const error = invalidOption(() => validateBackoff(option as BackoffOption));
    expect(error.option).toBe(name);
    expect(error.message).toContain(name);
  });

  it('prefixes the option name it is given', () => {
    const error = invalidOption(() => validateBackoff({ type: 'fixed', delay: 1, jitter: 2 }, 'send-email.backoff'));
    expect(error.option).toBe('send-email.backoff.jitter');
    expect(error.value).toBe(2);
  });
});

describe('backoffDelay edge cases', () => {
  // BUG: with delay 0, `0 × 2^(attempt − 1)` is `0 × Infinity = NaN` once attempt > 1024,
  // and NaN survives Math.min and Math.round: the delay returned is NaN, not 0.
  it('a zero exponential delay stays 0 however many attempts', () => {
    expect(backoffDelay({ type: 'exponential', delay: 0 }, 1100, null, noJitter)).toBe(0);
  });
});
