import type { Clock } from '../domain/clock.ts';

/** One attempt's deadline, as `AttemptDeadlines.start` returns it; pass it to `clear` when the attempt ends first. */
export interface Deadline {
  readonly at: number;
  /** Null once cleared or fired. */
  onExpire: (() => void) | null;
  readonly lane: Lane;
}

/** Deadlines of one timeout length: they expire in the order they started. */
export interface Lane {
  readonly ms: number;
  /** Deadlines in start order; those before `head` are gone. Cleared ones stay until they reach the head (or a compaction). */
  queue: Deadline[];
  head: number;
  /** Cleared deadlines still in `queue` at or past `head`. */
  cleared: number;
  /** Cancels the lane's one timer; null while none is armed. */
  cancel: (() => void) | null;
}

/** Below this many entries a lane's queue is never compacted: copying it would cost more than it frees. */
const compactAbove = 1024;

/**
 * The timeouts of the attempts a worker runs, with one timer per distinct timeout length
 * rather than one per attempt. Attempts with the same timeout expire in the order they
 * started, so each length keeps a first-in-first-out queue and one timer armed for its
 * oldest deadline still pending. A `setTimeout` and its `clearTimeout` per attempt were
 * a sizeable share of a short job's CPU (bench/where-the-time-goes.md, issue #21).
 *
 * A cleared deadline is only marked: the lane's timer stays armed, and when it fires for
 * a deadline that was cleared it re-arms for the oldest one still pending. So a run of short
 * jobs costs no timer call per job, only one per timeout length and lapse. A deadline fires
 * once its time has come on the clock (`clock.now() >= at`), never before; waits past
 * `setTimeout`'s 24.8-day limit are the clock's to take in steps (`systemClock` does).
 * Unlike a `setTimeout` per attempt, deadlines follow `clock.now()`, as leases do: a wall
 * clock stepped forward brings them closer, and one stepped back holds a deadline until those
 * of its length that started before it are due.
 */
export class AttemptDeadlines {
  private readonly lanes = new Map<number, Lane>();

  constructor(private readonly clock: Clock) {}

  /** Calls `onExpire` once `ms` have passed, unless the returned deadline is cleared first. */
  start(ms: number, onExpire: () => void): Deadline {
    let lane = this.lanes.get(ms);
    if (lane === undefined) {
      lane = { ms, queue: [], head: 0, cleared: 0, cancel: null };
      this.lanes.set(ms, lane);
    }
    const deadline: Deadline = { at: this.clock.now() + ms, onExpire, lane };
    lane.queue.push(deadline);
    // A timer armed for an earlier deadline of this lane reaches this one in turn.
    if (lane.cancel === null) this.arm(lane, deadline.at);
    return deadline;
  }

  /** The attempt ended before its deadline: it will not fire. Clearing twice, or after it fired, does nothing. */
  clear(deadline: Deadline): void {
    if (deadline.onExpire === null) return;
    deadline.onExpire = null;
    const { lane } = deadline;
    lane.cleared++;
    this.dropClearedHead(lane);
    // Jobs that end out of order leave cleared deadlines behind a long-running one: copy
    // out the pending ones once most of the queue is cleared, so it stays as long as the
    // attempts running (amortised: each copy is paid for by the clears before it).
    const length = lane.queue.length - lane.head;
    if (length > compactAbove && lane.cleared * 2 > length) {
      lane.queue = lane.queue.slice(lane.head).filter((entry) => entry.onExpire !== null);
      lane.head = 0;
      lane.cleared = 0;
    }
  }

  /** Deadlines not yet fired nor cleared, over every lane (for tests). */
  get pending(): number {
    let count = 0;
    for (const lane of this.lanes.values()) count += lane.queue.length - lane.head - lane.cleared;
    return count;
  }

  private arm(lane: Lane, at: number): void {
    lane.cancel = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => this.fire(lane));
  }

  private fire(lane: Lane): void {
    lane.cancel = null;
    const now = this.clock.now();
    this.dropClearedHead(lane);
    while (lane.head < lane.queue.length) {
      const deadline = lane.queue[lane.head]!;
      if (deadline.onExpire !== null && deadline.at > now) break;
      lane.queue[lane.head++] = undefined as never;
      const onExpire = deadline.onExpire;
      if (onExpire === null) {
        lane.cleared--;
        continue;
      }
      deadline.onExpire = null;
      onExpire();
    }
    // An expiry that started a deadline of this length armed the timer already.
    if (lane.cancel !== null) return;
    if (lane.head < lane.queue.length) this.arm(lane, lane.queue[lane.head]!.at);
    else this.forget(lane);
  }

  /** Pops cleared deadlines off the head, so the queue holds nothing older than the oldest pending one. */
  private dropClearedHead(lane: Lane): void {
    while (lane.head < lane.queue.length && lane.queue[lane.head]!.onExpire === null) {
      lane.queue[lane.head++] = undefined as never;
      lane.cleared--;
    }
    if (lane.head === lane.queue.length) {
      lane.queue.length = 0;
      lane.head = 0;
    } else if (lane.head > compactAbove && lane.head * 2 > lane.queue.length) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
  }

  /** An empty lane whose timer fired: dropped, so a worker that saw many timeout lengths does not keep them all. */
  private forget(lane: Lane): void {
    lane.queue.length = 0;
    lane.head = 0;
    lane.cleared = 0;
    if (this.lanes.get(lane.ms) === lane) this.lanes.delete(lane.ms);
  }
}
