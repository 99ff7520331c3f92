import type { BackendStats, LiveWorker } from '../contract/backend.ts';
import { waitingForChildren } from '../domain/flow-waiting.ts';
import type { JobRecord } from '../domain/job-record.ts';

/** What a `WaitReason` says, stable for scripts and the dashboard. */
export type WaitReasonCode =
  | 'finished'
  | 'running'
  | 'expired-lease'
  | 'waiting-for-children'
  | 'delayed'
  | 'queue-paused'
  | 'behind-higher-priority'
  | 'behind-earlier'
  | 'queue-busy'
  | 'no-live-worker'
  | 'ready';

/** One answer to "why is this job not running (yet)?", or "what is it doing?". */
export interface WaitReason {
  code: WaitReasonCode;
  /** True when this reason keeps the job from starting; false for context. */
  blocking: boolean;
  /** A sentence for a person; times in it are ISO 8601. */
  message: string;
  /** The facts behind the message (ids, counts, ISO times), for scripts and other renderings. */
  [detail: string]: unknown;
}

/** `client.explainWait()`'s answer: the job as read, the store's now, and every reason in order. */
export interface WaitExplanation {
  job: JobRecord;
  now: number;
  reasons: WaitReason[];
}

/** What a check may look at: gathered once, the rest fetched on demand (each at most once). */
export interface WaitFacts {
  job: JobRecord;
  /** The store's clock when the job was read. */
  now: number;
  stats(): Promise<BackendStats>;
  /** The live workers, or null on a store without `live-workers`. */
  workers(): Promise<LiveWorker[] | null>;
  /** Every waiting (queued or scheduled) job of `queue`, a page at a time. */
  waitingJobs(queue: string): AsyncIterable<JobRecord>;
}

/**
 * One thing that can hold a job back. Checks run in order and each adds its reasons; a new
 * one is one more entry in `waitChecks`.
 */
export interface WaitCheck {
  name: string;
  run(facts: WaitFacts): Promise<WaitReason[]>;
}

const iso = (at: number) => new Date(at).toISOString();
const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** Waiting for a worker: scheduled, queued, or running under a lease that lapsed (its worker is gone). */
export const isWaiting = (job: JobRecord, now: number): boolean =>
  job.state === 'scheduled' || job.state === 'queued' || (job.state === 'running' && job.lease !== null && job.lease.expiresAt <= now);

/** Most waiting jobs looked at to count those ahead; past it the count is a lower bound. */
const maxScanned = 100_000;

/** Live workers that claim the job: they serve its queue (or every queue) and run its name. */
function serving(workers: readonly LiveWorker[], job: JobRecord): { onQueue: LiveWorker[]; both: LiveWorker[] } {
  const onQueue = workers.filter((worker) => worker.queues === null || worker.queues.includes(job.queue));
  return { onQueue, both: onQueue.filter((worker) => worker.names.includes(job.name)) };
}

export const waitChecks: WaitCheck[] = [
  {
    name: 'finished',
    async run({ job }) {
      if (job.finishedAt === null) return [];
      return [{ code: 'finished', blocking: false, finishedAt: iso(job.finishedAt), message: `It is not waiting: it ${job.state === 'cancelled' ? 'was cancelled' : job.state} at ${iso(job.finishedAt)}.` }];
    },
  },
  {
    name: 'lease',
    async run({ job, now }) {
      if (job.state !== 'running' || job.lease === null) return [];
      const { workerId, expiresAt } = job.lease;
      if (expiresAt > now) {
        const cancel = job.cancelRequested ? ' A cancel was asked for; the attempt stops at its next heartbeat.' : '';
        return [{ code: 'running', blocking: false, workerId, leaseExpiresAt: iso(expiresAt), message: `It is running: worker ${workerId} holds it, and its lease ends at ${iso(expiresAt)} unless that worker renews it.${cancel}` }];
      }
      return [
        {
          code: 'expired-lease',
          blocking: true,
          workerId,
          leaseExpiresAt: iso(expiresAt),
          message: `Its lease expired at ${iso(expiresAt)}: worker ${workerId} crashed or hung. It waits for a worker serving queue "${job.queue}" to take it over.`,
        },
      ];
    },
  },
  {
    name: 'children',
    async run({ job }) {
      const waiting = waitingForChildren(job);
      if (waiting === null) return [];
      const { pendingChildren, children, flowId } = waiting;
      return [
        {
          code: 'waiting-for-children',
          blocking: true,
          pendingChildren,
          children,
          flowId,
          message: `It is waiting for ${pendingChildren} of ${plural(children, 'child', 'children')} of its flow to finish; it is queued when they have.`,
        },
      ];
    },
  },
  {
    name: 'delay',
    async run({ job, now }) {
      // Its run time is the never-due mark of a parent waiting for its children, not a delay.
      if (job.state !== 'scheduled' || job.runAt <= now || waitingForChildren(job) !== null) return [];
      const backoff = job.attempts > 0 && job.error !== null ? `, backing off after attempt ${job.error.attempt} failed: ${job.error.message.split('\n')[0]}` : '';
      const sleep = job.steps?.find((step) => step.outcome === 'sleeping' && step.wakeAt === job.runAt);
      const cause = sleep ? `: it sleeps in step "${sleep.name}" (ctx.sleep)` : backoff;
      return [{ code: 'delayed', blocking: true, runAt: iso(job.runAt), ...(sleep ? { step: sleep.name } : {}), message: `It is delayed until ${iso(job.runAt)}${cause}.` }];
    },
  },
  {
    name: 'paused',
    async run({ job, now, stats }) {
      if (!isWaiting(job, now)) return [];
      const queue = (await stats()).queues.find((entry) => entry.queue === job.queue);
      if (!queue?.paused) return [];
      return [{ code: 'queue-paused', blocking: true, queue: job.queue, message: `Queue "${job.queue}" is paused (jobsmith queues resume ${job.queue}).` }];
    },
  },
  {
    name: 'ahead',
    async run({ job, now, waitingJobs }) {
      if (!isWaiting(job, now) || job.runAt > now) return [];
      let higher = 0;
      let earlier = 0;
      let scanned = 0;
      for await (const other of waitingJobs(job.queue)) {
        if (++scanned > maxScanned) break;
        if (other.id === job.id || (other.state === 'scheduled' && other.runAt > now)) continue;
        if (other.priority > job.priority) higher++;
        else if (other.priority === job.priority && (other.runAt < job.runAt || (other.runAt === job.runAt && other.id < job.id))) earlier++;
      }
      const atLeast = scanned > maxScanned ? 'at least ' : '';
      const reasons: WaitReason[] = [];
      if (higher > 0) {
        reasons.push({ code: 'behind-higher-priority', blocking: true, count: higher, message: `It waits behind ${atLeast}${plural(higher, 'job')} of higher priority in queue "${job.queue}".` });
      }
      if (earlier > 0) {
        reasons.push({ code: 'behind-earlier', blocking: true, count: earlier, message: `It waits behind ${atLeast}${plural(earlier, 'earlier job')} of the same priority (${job.priority}) in queue "${job.queue}".` });
      }
      return reasons;
    },
  },
  {
    name: 'busy',
    async run({ job, now, stats }) {
      if (!isWaiting(job, now)) return [];
      const counted = (await stats()).queues.find((entry) => entry.queue === job.queue)?.counts.running ?? 0;
      // A job whose lease expired is still counted as running itself.
      const running = counted - (job.state === 'running' ? 1 : 0);
      if (running <= 0) return [];
      return [{ code: 'queue-busy', blocking: false, count: running, message: `${running} job${running === 1 ? ' is' : 's are'} running in queue "${job.queue}" now.` }];
    },
  },
  {
    name: 'live-workers',
    async run({ job, now, workers }) {
      if (!isWaiting(job, now)) return [];
      const live = await workers();
      if (live === null) return [];
      const { onQueue, both } = serving(live, job);
      if (both.length > 0) return [];
      const all = live.length === 0 ? 'no worker is live' : `${plural(live.length, 'live worker')} serve${live.length === 1 ? 's' : ''} other queues`;
      const details = { queue: job.queue, name: job.name, liveWorkers: live.length, workersOnQueue: onQueue.length };
      if (onQueue.length === 0) {
        return [{ code: 'no-live-worker', blocking: true, missing: 'queue', ...details, message: `No live worker serves queue "${job.queue}" (${all}): it waits until one starts.` }];
      }
      return [
        {
          code: 'no-live-worker',
          blocking: true,
          missing: 'name',
          ...details,
          message: `No live worker runs "${job.name}": the ${plural(onQueue.length, 'live worker')} serving queue "${job.queue}" ${onQueue.length === 1 ? 'does' : 'do'} not know that job (${plural(live.length, 'live worker')} in all). It waits until one that does starts.`,
        },
      ];
    },
  },
];

/** Runs every check; a waiting job that nothing holds back gets a `ready` reason. */
export async function waitReasons(facts: WaitFacts): Promise<WaitReason[]> {
  const reasons: WaitReason[] = [];
  for (const check of waitChecks) reasons.push(...(await check.run(facts)));
  if (isWaiting(facts.job, facts.now) && !reasons.some((reason) => reason.blocking)) reasons.push(readyReason(facts.job, await facts.workers()));
  return reasons;
}

function readyReason(job: JobRecord, live: LiveWorker[] | null): WaitReason {
  const next = `Nothing in the store holds it back: the next worker serving queue "${job.queue}" that runs "${job.name}" claims it.`;
  if (live === null) return { code: 'ready', blocking: false, message: `${next} (Whether such a worker is running cannot be checked on this store.)` };
  const ids = serving(live, job).both.map((worker) => worker.id);
  const named = ids.length > 3 ? `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more` : ids.join(', ');
  return { code: 'ready', blocking: false, workers: ids, message: `${next} ${ids.length === 1 ? '1 live worker does' : `${ids.length} live workers do`}: ${named}.` };
}
