import type { JobState } from '../domain/job-state.ts';
import type { BackendStats, MinuteCount, QueueStats } from './backend.ts';

/**
 * Finished-job counters are kept per queue in 10-second buckets, so stats survive
 * retention and pruning. "Last minute" and "last hour" are the buckets that started
 * within that window: exact to 10 seconds.
 */
export const bucketMs = 10_000;
export const statsWindowMs = 3_600_000;

export function bucketOf(at: number): number {
  return Math.floor(at / bucketMs) * bucketMs;
}

export function emptyCounts(): Record<JobState, number> {
  return { scheduled: 0, queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
}

export interface BucketCount {
  queue: string;
  bucket: number;
  completed: number;
  failed: number;
}

/** The earliest due time among a queue's queued jobs. */
export interface WaitingRow {
  queue: string;
  runAt: number;
}

/** How many flow parents in a queue wait for their children (stored as scheduled, never due). */
export interface WaitingForChildrenRow {
  queue: string;
  count: number;
}

export interface QueueRow {
  queue: string;
  paused: boolean;
  lastProcessedAt: number | null;
}

/**
 * Folds raw rows into `BackendStats`. Shared by every backend so the arithmetic of
 * "last minute" and "last hour" is the same everywhere.
 */
export function buildStats(
  now: number,
  stateCounts: ReadonlyArray<{ queue: string; state: JobState; count: number }>,
  queueRows: readonly QueueRow[],
  buckets: readonly BucketCount[],
  oldestWaiting: readonly WaitingRow[],
  waitingForChildren: readonly WaitingForChildrenRow[],
): BackendStats {
  const byQueue = new Map<string, QueueStats>();
  const queueStats = (queue: string): QueueStats => {
    let stats = byQueue.get(queue);
    if (!stats) {
      stats = {
        queue,
        paused: false,
        counts: emptyCounts(),
        waitingForChildren: 0,
        lastProcessedAt: null,
        completedLastMinute: 0,
        failedLastMinute: 0,
        completedLastHour: 0,
        failedLastHour: 0,
        oldestWaitingSince: null,
      };
      byQueue.set(queue, stats);
    }
    return stats;
  };
  for (const row of queueRows) Object.assign(queueStats(row.queue), { paused: row.paused, lastProcessedAt: row.lastProcessedAt });
  for (const row of stateCounts) queueStats(row.queue).counts[row.state] += row.count;
  for (const row of oldestWaiting) queueStats(row.queue).oldestWaitingSince = row.runAt;
  // A count kept as a counter (Redis) is never shown below zero.
  for (const row of waitingForChildren) if (row.count > 0) queueStats(row.queue).waitingForChildren += row.count;
  for (const row of buckets) {
    const stats = queueStats(row.queue);
    if (row.bucket > now - statsWindowMs) {
      stats.completedLastHour += row.completed;
      stats.failedLastHour += row.failed;
    }
    if (row.bucket > now - 60_000) {
      stats.completedLastMinute += row.completed;
      stats.failedLastMinute += row.failed;
    }
  }
  const queues = [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  const totals: BackendStats = {
    counts: emptyCounts(),
    waitingForChildren: 0,
    queues,
    lastProcessedAt: null,
    completedLastMinute: 0,
    failedLastMinute: 0,
    completedLastHour: 0,
    failedLastHour: 0,
    oldestWaitingSince: null,
    lastHourByMinute: lastHourByMinute(now, buckets),
  };
  for (const stats of queues) {
    for (const state of Object.keys(stats.counts) as JobState[]) totals.counts[state] += stats.counts[state];
    totals.waitingForChildren += stats.waitingForChildren;
    totals.completedLastMinute += stats.completedLastMinute;
    totals.failedLastMinute += stats.failedLastMinute;
    totals.completedLastHour += stats.completedLastHour;
    totals.failedLastHour += stats.failedLastHour;
    if (stats.oldestWaitingSince !== null && (totals.oldestWaitingSince === null || stats.oldestWaitingSince < totals.oldestWaitingSince)) {
      totals.oldestWaitingSince = stats.oldestWaitingSince;
    }
    if (stats.lastProcessedAt !== null && (totals.lastProcessedAt === null || stats.lastProcessedAt > totals.lastProcessedAt)) {
      totals.lastProcessedAt = stats.lastProcessedAt;
    }
  }
  return totals;
}

/** The 60 minutes ending with the current one, oldest first, each with the buckets that started in it (the hour's window, as the totals). */
function lastHourByMinute(now: number, buckets: readonly BucketCount[]): MinuteCount[] {
  const currentMinute = Math.floor(now / 60_000) * 60_000;
  const first = currentMinute - 59 * 60_000;
  const minutes: MinuteCount[] = Array.from({ length: 60 }, (_, index) => ({ at: first + index * 60_000, completed: 0, failed: 0 }));
  for (const row of buckets) {
    if (row.bucket <= now - statsWindowMs || row.bucket < first || row.bucket > now) continue;
    const minute = minutes[Math.floor((row.bucket - first) / 60_000)];
    if (!minute) continue;
    minute.completed += row.completed;
    minute.failed += row.failed;
  }
  return minutes;
}
