import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/domain/clock.ts';
import { AttemptDeadlines } from '../../src/execution/attempt-deadlines.ts';
import { FakeClock } from '../../src/testing/index.ts';

const day = 86_400_000;

/** Expiries in the order they fired, with the clock's time at each (ms since the test's start). */
function recorder(clock: FakeClock) {
  const start = clock.now();
  const fired: Array<[string, number]> = [];
  return { fired, expire: (name: string) => () => fired.push([name, clock.now() - start]) };
}

describe('AttemptDeadlines', () => {
  afterEach(() => vi.useRealTimers());

  it('fires each deadline of one length exactly its length after it started, not a millisecond before', async () => {
    const clock = new FakeClock();
    const deadlines = new AttemptDeadlines(clock);
    const { fired, expire } = recorder(clock);
    deadlines.start(1000, expire('a'));
    await clock.advance(300);
    deadlines.start(1000, expire('b'));
    await clock.advance(1);
    deadlines.start(1000, expire('c'));
    await clock.advance(698);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([['a', 1000]]);
    await clock.advance(299);
    expect(fired).toEqual([['a', 1000]]);
    await clock.advance(1);
    expect(fired).toEqual([
      ['a', 1000],
      ['b', 1300],
    ]);
    await clock.advance(1);
    expect(fired.at(-1)).toEqual(['c', 1301]);
    expect(deadlines.pending).toBe(0);
  });

  it('keeps one timer per timeout length, however many attempts wait', async () => {
    const clock = new FakeClock();
    const deadlines = new AttemptDeadlines(clock);
    const { fired, expire } = recorder(clock);
    for (let i = 0; i < 100; i++) {
      deadlines.start(5000, expire(`long-${i}`));
      deadlines.start(2000, expire(`short-${i}`));
      await clock.advance(1);
    }
    expect(deadlines.pending).toBe(200);
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(2000);
    // Lengths apart keep their own order: the short ones started later fire first.
    expect(fired.length).toBe(100);
    expect(fired.every(([name], i) => name === `short-${i}`)).toBe(true);
    expect(fired.map(([, at]) => at)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2000));
    await clock.advance(3000);
    expect(fired.length).toBe(200);
    expect(fired.slice(100).map(([name, at]) => [name, at])).toEqual(Array.from({ length: 100 }, (_, i) => [`long-${i}`, i + 5000]));
    // Every lane fired and emptied: no timer left behind.
    expect(clock.pendingTimers).toBe(0);
  });

  it('never fires a cleared deadline, and clearing the oldest does not hold up the next', async () => {
    const clock = new FakeClock();
    const deadlines = new AttemptDeadlines(clock);
    const { fired, expire } = recorder(clock);
    const a = deadlines.start(1000, expire('a'));
    await clock.advance(100);
    const b = deadlines.start(1000, expire('b'));
    await clock.advance(100);
    deadlines.start(1000, expire('c'));
    deadlines.clear(a);
    deadlines.clear(b);
    // Twice changes nothing.
    deadlines.clear(b);
    expect(deadlines.pending).toBe(1);
    await clock.advance(799);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([]);
    await clock.advance(200);
    expect(fired).toEqual([['c', 1200]]);
  });

  it('clears a deadline in the middle of its lane without touching those around it', async () => {
    const clock = new FakeClock();
    const deadlines = new AttemptDeadlines(clock);
    const { fired, expire } = recorder(clock);
    deadlines.start(500, expire('a'));
    await clock.advance(10);
    const b = deadlines.start(500, expire('b'));
    await clock.advance(10);
    deadlines.start(500, expire('c'));
    deadlines.clear(b);
    await clock.advance(1000);
    expect(fired).toEqual([
      ['a', 500],
      ['c', 520],
    ]);
  });

  it('clearing a deadline after it fired does nothing', async () => {
    const clock = new FakeClock();
    const deadlines = new AttemptDeadlines(clock);
    const { fired, expire } = recorder(clock);
    const a = deadlines.start(100, expire('a'));
    await clock.advance(100);
    deadlines.clear(a);
    const b = deadlines.start(100, expire('b'));
    await clock.advance(100);
    expect(fired).toEqual([
      ['a', 100],
      ['b', 200],
    ]);
    deadlines.clear(b);
    expect(deadlines.pending).toBe(0);
  });

  it('a deadline started by an expiry, of the same length, fires in its turn with one timer', async () => {
    const clock = new FakeClock();
    const deadlines = new AttemptDeadlines(clock);
    const { fired, expire } = recorder(clock);
    deadlines.start(100, () => {
      expire('a')();
      deadlines.start(100, expire('b'));
    });
    await clock.advance(100);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(100);
    expect(fired).toEqual([
      ['a', 100],
      ['b', 200],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stays as long as the attempts running when most end out of order behind a long one', async () => {
    const clock = new FakeClock();
    const deadlines = new AttemptDeadlines(clock);
    const { fired, expire } = recorder(clock);
    // One attempt that runs to its timeout, while 10,000 after it end before theirs.
    deadlines.start(60_000, expire('stuck'));
    const kept: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const deadline = deadlines.start(60_000, expire(`job-${i}`));
      if (i % 1000 === 999) kept.push(`job-${i}`);
      else deadlines.clear(deadline);
    }
    expect(deadlines.pending).toBe(11);
    const lane = (deadlines as unknown as { lanes: Map<number, { queue: unknown[]; head: number }> }).lanes.get(60_000)!;
    // Compacted as it went: far fewer entries than the 10,001 started.
    expect(lane.queue.length - lane.head).toBeLessThan(2100);
    await clock.advance(60_000);
    expect(fired.map(([name]) => name)).toEqual(['stuck', ...kept]);
  });

  it('a timeout longer than setTimeout can hold (24.8 days) waits in full on the system clock', () => {
    vi.useFakeTimers();
    const deadlines = new AttemptDeadlines(systemClock);
    let fired = 0;
    let firedShort = 0;
    deadlines.start(30 * day, () => fired++);
    deadlines.start(1000, () => firedShort++);
    vi.advanceTimersByTime(2 ** 31);
    expect(firedShort).toBe(1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(30 * day - 2 ** 31 - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
  });

  it('a cleared long timeout never fires on the system clock', () => {
    vi.useFakeTimers();
    const deadlines = new AttemptDeadlines(systemClock);
    let fired = 0;
    const deadline = deadlines.start(30 * day, () => fired++);
    vi.advanceTimersByTime(10 * day);
    deadlines.clear(deadline);
    vi.advanceTimersByTime(40 * day);
    expect(fired).toBe(0);
    expect(deadlines.pending).toBe(0);
  });
});
