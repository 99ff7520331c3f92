import type { Clock } from '../domain/clock.ts';
import { type Duration, toMs } from '../domain/duration.ts';

interface Timer {
  at: number;
  seq: number;
  callback: () => void;
}

/**
 * A clock that moves only when told to. Timers fire in time order as `advance`
 * passes them, with the microtask queue drained after each, so code awaiting a timer
 * runs before the next one fires.
 * @example
 * const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
 * await clock.advance('30s');
 */
export interface FakeClockOptions {
  /**
   * Awaited after each timer fires, so the code it woke can finish before time moves on.
   * The default lets pending promise callbacks run; a store reached over the network needs
   * more (the conformance suite waits until no backend call is in flight).
   */
  settle?: () => Promise<void>;
}

export class FakeClock implements Clock {
  private current: number;
  private timers: Timer[] = [];
  private seq = 0;
  private readonly settle: () => Promise<void>;

  constructor(start = Date.UTC(2026, 0, 1), options: FakeClockOptions = {}) {
    this.current = start;
    this.settle = options.settle ?? drainCallbacks;
  }

  now(): number {
    return this.current;
  }

  setTimer(ms: number, callback: () => void): () => void {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((other) => other !== timer);
    };
  }

  /** Moves time forward by `by` (ms or a string like `'30s'`), firing due timers in order. */
  async advance(by: Duration): Promise<void> {
    const target = this.current + toMs(by, 'advance');
    await this.settle();
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > target) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.current = Math.max(this.current, next.at);
      next.callback();
      await this.settle();
    }
    this.current = target;
    await this.settle();
  }

  /** Sets the time; moving backward fires nothing, as a wall clock stepped back would. */
  async set(at: number | Date): Promise<void> {
    const target = typeof at === 'number' ? at : at.getTime();
    if (target >= this.current) return this.advance(target - this.current);
    this.current = target;
    await this.settle();
  }

  /** How many timers are waiting. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  private nextTimer(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers) if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    return best;
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
async function drainCallbacks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
