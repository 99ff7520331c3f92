import type { Backend, LeaseRef, WorkerPresence } from '../contract/backend.ts';
import type { Clock } from '../domain/clock.ts';
import { JobCancelledError, LeaseLostError } from '../domain/errors.ts';
import type { AttemptAbort } from './attempt-abort.ts';

/** One tracked lease: the job's id and lease token, and the attempt to abort when it is lost or cancelled. */
interface Tracked {
  id: string;
  token: string;
  controller: AttemptAbort;
}

export interface LeaseKeeperOptions {
  backend: Backend;
  clock: Clock;
  leaseMs: number;
  heartbeatMs: number;
  /** Called when a heartbeat fails; the keeper carries on and tries again at the next beat. */
  onError: (error: unknown) => void;
  /**
   * The worker's registration as of now, on a backend with `live-workers`: every heartbeat
   * writes it for a lease's length, with the renewal when there are leases to renew (one
   * call), else on its own, so an idle worker stays listed too.
   */
  presence?: () => WorkerPresence;
}

/**
 * Keeps the leases of running attempts alive with one batched `renewLeases` call per
 * heartbeat, and aborts an attempt's signal when its lease is lost or a cancel is
 * asked for. A failed heartbeat is reported and retried at the next beat; leases are
 * three heartbeats long by default, so one lost beat costs nothing. With `presence`, the
 * same heartbeat keeps the worker's registration in the store alive.
 */
export class LeaseKeeper {
  private readonly tracked = new Map<string, Tracked>();
  private cancelTimer: (() => void) | null = null;
  private beating: Promise<void> | null = null;
  /** When the last heartbeat that renewed every tracked lease started (the store extends them from then). */
  private renewedAt = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly options: LeaseKeeperOptions) {}

  start(): void {
    if (this.cancelTimer) return;
    this.unsubscribe =
      this.options.backend.subscribe?.((event) => {
        if (event.type !== 'cancel-requested') return;
        for (const item of this.tracked.values()) if (item.id === event.id) item.controller.abort(new JobCancelledError(event.id));
      }) ?? null;
    this.schedule();
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  // Keyed by lease token: a worker may hold a new attempt of a job whose old,
  // fenced-off attempt has not yet noticed. A worker tracks a job once, from its claim to
  // its end; tracking a token again (a failed hook's own abort) replaces the attempt to abort.
  track(id: string, token: string, controller: AttemptAbort): void {
    // A fresh claim is as good as a renewal: with nothing else tracked, every lease is fresh.
    if (this.tracked.size === 0) this.renewedAt = this.options.clock.now();
    this.tracked.set(token, { id, token, controller });
  }

  untrack(token: string): void {
    this.tracked.delete(token);
  }

  /** Aborts every tracked attempt with the reason `reasonFor` gives. */
  abortAll(reasonFor: (id: string) => Error): void {
    for (const item of this.tracked.values()) item.controller.abort(reasonFor(item.id));
  }

  /**
   * Renews the tracked leases first when a heartbeat is overdue, or waits for the one in
   * flight. A worker calls it before it claims: after its event loop was blocked (a
   * synchronous handler) past a lease, its own running jobs look crashed to the store, and
   * a claim would take them over and run them a second time in this very process.
   */
  async renewIfOverdue(): Promise<void> {
    if (this.beating) return this.beating;
    if (this.tracked.size > 0 && this.options.clock.now() - this.renewedAt > this.options.heartbeatMs * 1.5) await this.beat();
  }

  /** Renews every tracked lease now (and the worker's registration, with `presence`). */
  beat(): Promise<void> {
    if (this.beating) return this.beating;
    if (this.tracked.size === 0 && !this.options.presence) return Promise.resolve();
    this.beating = this.renew().finally(() => {
      this.beating = null;
    });
    return this.beating;
  }

  /** Resolves once no heartbeat is in flight: after `stop()`, nothing this keeper sent is still on its way. */
  async whenIdle(): Promise<void> {
    await this.beating;
  }

  private async renew(): Promise<void> {
    const batch = [...this.tracked.values()];
    const startedAt = this.options.clock.now();
    const { backend, leaseMs } = this.options;
    const worker = this.options.presence?.();
    try {
      if (batch.length === 0) {
        if (worker) await backend.registerWorker!(worker, leaseMs);
        return;
      }
      const statuses = await backend.renewLeases(
        batch.map((item): LeaseRef => ({ id: item.id, token: item.token })),
        leaseMs,
        worker ? { worker, ttlMs: leaseMs } : undefined,
      );
      statuses.forEach((status, index) => {
        const item = batch[index]!;
        // Skip attempts that ended while the call was in flight.
        if (this.tracked.get(item.token) !== item) return;
        if (!status.held) item.controller.abort(new LeaseLostError(status.id));
        else if (status.cancelRequested) item.controller.abort(new JobCancelledError(status.id));
      });
      this.renewedAt = startedAt;
    } catch (error) {
      this.options.onError(error);
    }
  }

  private schedule(): void {
    this.cancelTimer = this.options.clock.setTimer(this.options.heartbeatMs, () => {
      void this.beat().finally(() => {
        if (this.cancelTimer) this.schedule();
      });
    });
  }
}
