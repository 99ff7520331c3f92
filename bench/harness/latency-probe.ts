import type { BenchJob, RunningWorker, SystemConnection } from '../systems/system-adapter.ts';
import { CompletionTracker } from './completion-tracker.ts';
import type { LatencyOutcome } from './run-outcome.ts';
import { percentile } from './statistics.ts';
import type { Production } from './steady-producer.ts';
import { wallClockMs } from './wall-clock.ts';
import { latencyWorkerConcurrency } from './workloads.ts';

/**
 * How long a fresh worker is left alone before jobs arrive, so the latency runs time
 * an idle worker being woken rather than one still busy with its first claim.
 */
export const idleWorkerSettleMs = 250;

/** The worker side of a latency run: how long the jobs that arrived took to start. */
export interface LatencyObservation {
  readonly kind: 'latency-observation';
  readonly received: number;
  /** The cap came before every expected job had started. */
  readonly capped: boolean;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** A running worker that records, for each job, the time from its enqueue to its handler's start. */
export class LatencyProbe {
  private readonly tracker: CompletionTracker;
  private readonly latencies: Float64Array;
  private worker: RunningWorker | null = null;

  private constructor(expected: number) {
    this.tracker = new CompletionTracker(expected);
    this.latencies = new Float64Array(expected);
  }

  /** Starts a worker on `connection` that expects jobs 0 … expected-1. */
  static async start(connection: SystemConnection, expected: number): Promise<LatencyProbe> {
    const probe = new LatencyProbe(expected);
    probe.worker = await connection.startWorker({ concurrency: latencyWorkerConcurrency, onJobStart: (job) => probe.record(job) });
    return probe;
  }

  /** Waits for every expected job, or `deadline`, then stops the worker. */
  async finish(deadline: number): Promise<LatencyObservation> {
    const finished = await this.tracker.waitUntilDone(deadline);
    await this.worker?.stop();
    const received = this.tracker.distinct;
    const sorted = this.latencies.slice(0, received).sort();
    const at = (percent: number) => (received === 0 ? Number.NaN : percentile(sorted, percent));
    return {
      kind: 'latency-observation',
      received,
      capped: !finished,
      p50Ms: at(50),
      p95Ms: at(95),
      p99Ms: at(99),
      maxMs: at(100),
    };
  }

  private record(job: BenchJob): void {
    // Read the clock first: it is the moment the handler started.
    const startedAt = wallClockMs();
    const position = this.tracker.distinct;
    if (this.tracker.record(job.index)) this.latencies[position] = startedAt - job.sentAt;
  }
}

/** A whole latency run: the producer's side and the worker's. */
export function latencyOutcome(production: Production, observation: LatencyObservation): LatencyOutcome {
  return {
    kind: 'latency',
    target: production.target,
    sent: production.sent,
    received: observation.received,
    capped: production.capped || observation.capped,
    sentPerSecond: production.sentPerSecond,
    p50Ms: observation.p50Ms,
    p95Ms: observation.p95Ms,
    p99Ms: observation.p99Ms,
    maxMs: observation.maxMs,
  };
}
