import type { SqliteConnection } from './sqlite-connection.ts';
import { localWritesOf } from './sqlite-event-hub.ts';
import { isBusy } from './sqlite-lock-wait.ts';

/** How often the watch looks while other processes keep committing (see `nextLookInMs`). */
export const quickLookMs = 1;
/** How long after the last commit it saw the watch keeps looking every `quickLookMs`. */
export const quickSpellMs = 1000;
/** Looks in a row that each found a commit, after which the file counts as busy (see `nextLookInMs`). */
export const busyAfterChanges = 3;

/**
 * How long the watch waits before its next look, `sinceChangeMs` after it last saw another
 * process commit, `changesInARow` the looks in a row (the last included) that each saw one.
 *
 * While commits come now and then (a producer in another process), every millisecond: each
 * look that finds one wakes a worker for a job that would otherwise wait up to `idleMs`, and a
 * look is a read of a few microseconds (issue #21's latency aim, p99 ≤ 5 ms with the producer
 * in another process, was about 11 ms at a steady 10 ms). After a quiet second, `idleMs` again,
 * so an idle process wakes as seldom as before. And `idleMs` too while every look finds a
 * commit (several workers busy on one file): their workers claim as their slots free anyway,
 * and each look takes a read lock on the log (a first version that looked every millisecond
 * whatever the traffic ran four busy worker processes 10–30 % slower: where-the-time-goes.md).
 */
export function nextLookInMs(sinceChangeMs: number, changesInARow: number, idleMs: number): number {
  return sinceChangeMs < quickSpellMs && changesInARow < busyAfterChanges ? Math.min(quickLookMs, idleMs) : idleMs;
}

/** The watch's timer: real time by default (a polling cadence is not a delay a test clock should drive). */
export interface WatchTimer {
  now(): number;
  /** Runs `look` once after `ms`, without holding the process open; returns a cancel. */
  after(ms: number, look: () => void): () => void;
}

const realTime: WatchTimer = {
  now: () => performance.now(),
  after(ms, look) {
    const timer = setTimeout(look, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/**
 * Watches the file for commits by other processes through `PRAGMA data_version`, which
 * changes when another connection commits, and emits 'changed' into the file's event hub;
 * after such a commit it also reads the running attempts with a cancel request and emits
 * 'cancel-requested' for each one not announced before, so a worker here aborts its handler
 * now rather than at its next heartbeat. Attempts of other processes are announced too; a
 * worker ignores ids it does not run.
 */
export class OtherProcessWatch {
  private cancelNext: (() => void) | null = null;
  private version: number | null = null;
  private lastChangeAt = Number.NEGATIVE_INFINITY;
  /** The last looks in a row that each saw another process's commit. */
  private changesInARow = 0;
  /** Writes by this process's other connections on the file, as of the last look. */
  private othersWritten = 0;
  /** A commit was seen but the cancel requests were not read yet (the read failed): read them at the next look. */
  private cancelsToRead = false;
  /** Lease tokens of running attempts with a cancel request, as last announced. */
  private announcedCancels = new Set<string>();
  /** When (`timer.now()`) the looks began to fail, or null while they succeed. */
  private failingSince: number | null = null;
  /** The current spell of failed looks was reported: not again until a look succeeds. */
  private failureReported = false;

  constructor(
    private readonly connection: SqliteConnection,
    private readonly idleMs: number,
    private readonly timer: WatchTimer = realTime,
  ) {}

  get watching(): boolean {
    return this.cancelNext !== null;
  }

  start(): void {
    if (this.cancelNext || this.connection.isClosed || this.idleMs <= 0) return;
    this.scheduleLook();
  }

  stop(): void {
    this.cancelNext?.();
    this.cancelNext = null;
  }

  private scheduleLook(): void {
    this.cancelNext = this.timer.after(nextLookInMs(this.timer.now() - this.lastChangeAt, this.changesInARow, this.idleMs), () => {
      this.look();
      if (this.cancelNext) this.scheduleLook();
    });
  }

  private look(): void {
    // Only an open connection is looked at: a look never opens one.
    if (!this.connection.current) return;
    const s = this.connection.statements;
    let changed = false;
    let cancels: Array<{ id: string; lease_token: string }> | null = null;
    try {
      const current = (s.dataVersion.get() as { data_version: number }).data_version;
      changed = this.version !== null && current !== this.version;
      this.version = current;
      // A change while another connection of this process wrote may be that write, whose events
      // the hub delivered at once: it is passed on, but it does not quicken the watch.
      const othersWritten = localWritesOf(this.connection.hubKey) - this.connection.localWrites;
      const fromElsewhere = changed && othersWritten === this.othersWritten;
      this.othersWritten = othersWritten;
      this.changesInARow = fromElsewhere ? this.changesInARow + 1 : 0;
      if (fromElsewhere) this.lastChangeAt = this.timer.now();
      if (changed) this.cancelsToRead = true;
      if (this.cancelsToRead) cancels = s.cancelRequests.all() as Array<{ id: string; lease_token: string }>;
      this.cancelsToRead = false;
      this.failingSince = null;
      this.failureReported = false;
    } catch (error) {
      this.lookFailed(error);
    }
    if (changed) this.connection.emit({ type: 'changed' });
    if (cancels) this.announceCancelRequests(cancels);
  }

  /**
   * A failed look is tried again at the next one; the worker's poll and heartbeat cover what it
   * misses meanwhile. It is reported, as a 'connection-error' event (a worker logs it), once per
   * spell of failures, since looks come up to a thousand a second: at once for a real failure
   * (an I/O error, a file gone), and for SQLITE_BUSY (the log being reset, a moment in WAL
   * mode) only once it has lasted as long as a call waits for a lock before it fails.
   */
  private lookFailed(error: unknown): void {
    const now = this.timer.now();
    this.failingSince ??= now;
    if (this.failureReported || (isBusy(error) && now - this.failingSince < this.connection.busyTimeoutMs)) return;
    this.failureReported = true;
    this.connection.emit({ type: 'connection-error', error: this.connection.failure('watch', error) });
  }

  private announceCancelRequests(requests: ReadonlyArray<{ id: string; lease_token: string }>): void {
    const announced = this.announcedCancels;
    this.announcedCancels = new Set(requests.map((row) => row.lease_token));
    for (const row of requests) if (!announced.has(row.lease_token)) this.connection.emit({ type: 'cancel-requested', id: row.id });
  }
}
