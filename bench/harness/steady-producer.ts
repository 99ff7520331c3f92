import { setTimeout as delay } from 'node:timers/promises';
import type { SystemConnection } from '../systems/system-adapter.ts';
import type { LatencyOptions } from './bench-options.ts';
import { latencyJobCount } from './bench-options.ts';
import { wallClockMs } from './wall-clock.ts';

/** What a producer managed to send. */
export interface Production {
  readonly target: number;
  readonly sent: number;
  readonly sentPerSecond: number;
  readonly capped: boolean;
}

/**
 * Enqueues jobs at an even pace, each stamped with the moment just before its enqueue
 * call. Open loop: a job is sent when its time comes even if earlier enqueues have not
 * resolved, so a slow enqueue shows up as latency instead of silently lowering the rate.
 */
export async function produceSteadily(connection: SystemConnection, latency: LatencyOptions, deadline: number): Promise<Production> {
  const target = latencyJobCount(latency);
  const intervalMs = 1000 / latency.ratePerSecond;
  const pending: Promise<void>[] = [];
  let failure: { error: unknown } | null = null;
  const startedAt = performance.now();
  let sent = 0;
  let capped = false;
  for (; sent < target; sent++) {
    const wait = startedAt + sent * intervalMs - performance.now();
    if (wait > 0) await delay(wait);
    if (performance.now() >= deadline) {
      capped = true;
      break;
    }
    // Caught at once: a rejection left pending until the loop ends would crash the process as unhandled.
    pending.push(
      connection.enqueue({ index: sent, sentAt: wallClockMs() }).catch((error: unknown) => {
        failure ??= { error };
      }),
    );
  }
  const elapsedMs = performance.now() - startedAt;
  await Promise.all(pending);
  if (failure !== null) throw (failure as { error: unknown }).error;
  // Spacing is measured from the first job to the last, so n jobs span n-1 intervals.
  return { target, sent, sentPerSecond: sent > 1 ? ((sent - 1) / elapsedMs) * 1000 : 0, capped };
}
