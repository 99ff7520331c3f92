import type { Command } from '@commander-js/extra-typings';
import type { BackendStats, Client, JobRecord } from '../index.ts';
import { stateStyles } from './list.ts';
import type { Session } from './session.ts';
import { momentInFull, relativeTime } from './time-format.ts';

/** One answer to "why is this job not running (yet)?", or "what is it doing?". */
export interface Reason {
  /** Stable, for scripts reading `--json`. */
  code: 'finished' | 'running' | 'expired-lease' | 'delayed' | 'queue-paused' | 'behind-higher-priority' | 'behind-earlier' | 'queue-busy' | 'ready';
  message: string;
  /** True when this reason keeps the job from starting; false for context. */
  blocking: boolean;
  [detail: string]: unknown;
}

/** What a check may look at: gathered once, the rest fetched on demand. */
export interface WhyFacts {
  job: JobRecord;
  now: number;
  client: Client;
  stats(): Promise<BackendStats>;
  tty: boolean;
}

/**
 * One thing that can hold a job back. Checks run in order and each adds its reasons; a new
 * one (such as "no live worker serves its queue or its name", once workers register in the
 * store) is one more entry in `waitChecks`.
 */
export interface WaitCheck {
  name: string;
  run(facts: WhyFacts): Promise<Reason[]>;
}

const isWaiting = (job: JobRecord, now: number) =>
  job.state === 'scheduled' || job.state === 'queued' || (job.state === 'running' && job.lease !== null && job.lease.expiresAt <= now);

/** Most waiting jobs looked at to count those ahead; past it the count is a lower bound. */
const maxScanned = 100_000;

export const waitChecks: WaitCheck[] = [
  {
    name: 'finished',
    async run({ job, now, tty }) {
      if (job.finishedAt === null) return [];
      return [{ code: 'finished', blocking: false, message: `It is not waiting: it ${job.state === 'cancelled' ? 'was cancelled' : job.state} at ${momentInFull(job.finishedAt, now, tty)}.` }];
    },
  },
  {
    name: 'lease',
    async run({ job, now, tty }) {
      if (job.state !== 'running' || job.lease === null) return [];
      const { workerId, expiresAt } = job.lease;
      const at = momentInFull(expiresAt, now, tty);
      if (expiresAt > now) {
        const cancel = job.cancelRequested ? ' A cancel was asked for; the attempt stops at its next heartbeat.' : '';
        return [{ code: 'running', blocking: false, workerId, leaseExpiresAt: new Date(expiresAt).toISOString(), message: `It is running: worker ${workerId} holds it, and its lease ends at ${at} unless that worker renews it.${cancel}` }];
      }
      return [
        {
          code: 'expired-lease',
          blocking: true,
          workerId,
          leaseExpiresAt: new Date(expiresAt).toISOString(),
          message: `Its lease expired at ${at}: worker ${workerId} crashed or hung. It waits for a worker serving queue "${job.queue}" to take it over.`,
        },
      ];
    },
  },
  {
    name: 'delay',
    async run({ job, now, tty }) {
      if (job.state !== 'scheduled' || job.runAt <= now) return [];
      const backoff = job.attempts > 0 && job.error !== null ? `, backing off after attempt ${job.error.attempt} failed: ${job.error.message.split('\n')[0]}` : '';
      const sleep = job.steps?.find((step) => step.outcome === 'sleeping' && step.wakeAt === job.runAt);
      const cause = sleep ? `: it sleeps in step "${sleep.name}" (ctx.sleep)` : backoff;
      return [{ code: 'delayed', blocking: true, runAt: new Date(job.runAt).toISOString(), message: `It is delayed until ${momentInFull(job.runAt, now, tty)}${cause}.` }];
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
    async run({ job, now, client }) {
      if (!isWaiting(job, now) || job.runAt > now) return [];
      let higher = 0;
      let earlier = 0;
      let scanned = 0;
      for await (const other of client.jobs({ state: ['queued', 'scheduled'], queue: job.queue, limit: 1000 })) {
        if (++scanned > maxScanned) break;
        if (other.id === job.id || (other.state === 'scheduled' && other.runAt > now)) continue;
        if (other.priority > job.priority) higher++;
        else if (other.priority === job.priority && (other.runAt < job.runAt || (other.runAt === job.runAt && other.id < job.id))) earlier++;
      }
      const atLeast = scanned > maxScanned ? 'at least ' : '';
      const reasons: Reason[] = [];
      if (higher > 0) {
        reasons.push({ code: 'behind-higher-priority', blocking: true, count: higher, message: `It waits behind ${atLeast}${higher} job${higher === 1 ? '' : 's'} of higher priority in queue "${job.queue}".` });
      }
      if (earlier > 0) {
        reasons.push({ code: 'behind-earlier', blocking: true, count: earlier, message: `It waits behind ${atLeast}${earlier} earlier job${earlier === 1 ? '' : 's'} of the same priority (${job.priority}) in queue "${job.queue}".` });
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
];

/** Runs every check; a waiting job that nothing holds back gets a `ready` reason. */
export async function explain(facts: WhyFacts): Promise<Reason[]> {
  const reasons: Reason[] = [];
  for (const check of waitChecks) reasons.push(...(await check.run(facts)));
  if (isWaiting(facts.job, facts.now) && !reasons.some((reason) => reason.blocking)) {
    reasons.push({
      code: 'ready',
      blocking: false,
      message: `Nothing in the store holds it back: the next worker serving queue "${facts.job.queue}" that runs "${facts.job.name}" claims it. (Whether such a worker is running cannot be checked yet.)`,
    });
  }
  return reasons;
}

export function registerWhy(program: Command, session: Session): void {
  program
    .command('why')
    .description('Why a waiting job is not running yet; for a running job, which worker holds it and until when.')
    .argument('<id>', 'a job id, or any unique prefix of one')
    .addHelpText('after', '\nExample:\n  $ jobsmith why 0190f3c2-1a2b')
    .action(async (idOrPrefix) => {
      const job = await session.job(idOrPrefix);
      const client = await session.client();
      const now = await session.now();
      let stats: Promise<BackendStats> | null = null;
      const terminal = session.terminal;
      const reasons = await explain({ job, now, client, tty: terminal.tty, stats: () => (stats ??= client.stats()) });
      if (session.json) return terminal.json({ id: job.id, name: job.name, queue: job.queue, state: job.state, reasons });
      await terminal.line(`${terminal.style('bold', job.id)}  ${job.name}  ${terminal.style(stateStyles[job.state], job.state)}  (created ${relativeTime(job.createdAt, now)})`);
      for (const reason of reasons) await terminal.line(`  ${reason.blocking ? terminal.style('yellow', '•') : terminal.style('dim', '•')} ${reason.message}`);
    });
}
