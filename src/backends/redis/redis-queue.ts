import type { BackendListeners } from '../../contract/backend-listeners.ts';
import type {
  ClaimedJob,
  ClaimRequest,
  ClaimResult,
  EnqueueCallOptions,
  EnqueueResult,
  JobQueue,
  LeaseRef,
  LeaseRequest,
  LeaseStatus,
  NewJob,
  Settlement,
  SettleResult,
} from '../../contract/job-queue.ts';
import type { PresenceRenewal } from '../../contract/worker-registry.ts';
import { asClaimedJob, followUpsOf } from '../../contract/job-queue.ts';
import { bucketOf } from '../../contract/stats-window.ts';
import { InvalidOptionError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import { newLeaseToken } from '../../domain/ids.ts';
import type { JobLogEntry, JobProgress } from '../../domain/job-record.ts';
import { recordLimits } from '../../domain/job-record.ts';
import type { JobState } from '../../domain/job-state.ts';
import type { RedisConnection } from './redis-backend.ts';
import { fieldsToRecord, packedFields } from './redis-rows.ts';
import { registrationArguments } from './redis-workers.ts';

/** Jobs per enqueue script call: bounds how long one call holds Redis, and what its EXISTS unpacks at once. */
const enqueueChunk = 1000;

/** The queue role of the Redis backend: each method is one script call (`lua/`). */
export class RedisQueue implements JobQueue {
  constructor(
    private readonly connection: RedisConnection,
    private readonly listeners: BackendListeners,
  ) {}

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: transactional enqueue is for the postgres backend');
    if (jobs.length === 0) return [];
    const now = this.connection.clock.now();
    if (new Set(jobs.map((job) => job.id)).size !== jobs.length) throw new StoreError('Two jobs in one enqueue share an id', { details: { operation: 'enqueue' } });
    if (jobs.length <= enqueueChunk) {
      const out = (await this.connection.script('enqueue', now, jobs.length, packedFields(jobs))) as Array<[string, number]>;
      return out.map(([id, created]) => ({ id, created: created === 1 }));
    }
    // A large batch goes as several script calls in one MULTI, which Redis runs back to back
    // with nothing in between: one call's arguments must stay within what Lua can take.
    const calls: Array<Array<string | number>> = [];
    for (let start = 0; start < jobs.length; start += enqueueChunk) {
      const chunk = jobs.slice(start, start + enqueueChunk);
      calls.push([now, chunk.length, packedFields(chunk)]);
    }
    const replies = (await this.connection.scriptBatch('enqueue', calls)) as Array<Array<[string, number]>>;
    return replies.flatMap((out) => out.map(([id, created]) => ({ id, created: created === 1 })));
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    const [id, created] = (await this.connection.script(
      'enqueueRunning',
      this.connection.clock.now(),
      newLeaseToken(),
      lease.workerId,
      lease.leaseMs,
      packedFields([job]),
    )) as [string, number];
    if (created !== 1) return { created: false, id };
    const [record] = await this.connection.records([id]);
    if (!record?.lease) throw new StoreError(`Job "${id}" was started inline but could not be read back`, { details: { id } });
    return { created: true, job: asClaimedJob(record, false) };
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const out = (await this.connection.script('claim', this.connection.clock.now(), ...claimArgs(request))) as ClaimReply;
    return claimedFromReply(out);
  }

  /** One script call: the outcomes are written and the next jobs claimed in one atomic step and one round trip. */
  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    const now = this.connection.clock.now();
    // One JSON list of strings for the whole batch (the script decodes it): the driver handles
    // one argument instead of eleven an outcome.
    const fields = settlements.flatMap((settlement) => {
      const followUps = followUpsOf(settlement);
      return [
        settlement.kind,
        settlement.id,
        settlement.token,
        settlement.kind === 'complete' ? JSON.stringify(settlement.result) : '',
        (settlement.kind === 'retry' || settlement.kind === 'fail' || settlement.kind === 'cancel') && settlement.error !== null ? JSON.stringify(settlement.error) : '',
        settlement.kind === 'retry' ? String(settlement.runAt) : '',
        (settlement.kind === 'retry' || settlement.kind === 'fail') && settlement.countAttempt ? '1' : '0',
        (settlement.kind === 'complete' || settlement.kind === 'fail' || settlement.kind === 'cancel') && settlement.expiresAt !== null ? String(settlement.expiresAt) : '',
        settlement.kind === 'fail' && settlement.hookPending ? '1' : '0',
        String(followUps.length),
        followUps.length > 0 ? packedFields(followUps) : '',
      ];
    });
    const claimPart = next ? ['1', ...claimArgs(next)] : ['0'];
    const [out, claimed] = (await this.connection.script('settle', now, bucketOf(now), settlements.length, JSON.stringify(fields), ...claimPart)) as [
      number[],
      ClaimReply | 0,
    ];
    const applied = out.map((value) => value === 1);
    settlements.forEach((settlement, index) => {
      if (!applied[index]) return;
      if (settlement.kind === 'retry' || settlement.kind === 'hook-done') return;
      const state: JobState = settlement.kind === 'complete' ? 'completed' : settlement.kind === 'fail' ? 'failed' : 'cancelled';
      this.listeners.emit({ type: 'settled', id: settlement.id, state });
    });
    return { applied, claimed: claimed === 0 ? null : claimedFromReply(claimed) };
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number, presence?: PresenceRenewal): Promise<LeaseStatus[]> {
    const now = this.connection.clock.now();
    const renew = { name: 'renew' as const, args: [now + leaseMs, leases.length, ...leases.flatMap((lease) => [lease.id, lease.token])] };
    if (!presence) {
      if (leases.length === 0) return [];
      return statusesOf(leases, (await this.connection.script(renew.name, ...renew.args)) as number[]);
    }
    // The worker's registration rides in the same MULTI: one round trip for the heartbeat.
    const [out] = await this.connection.scripts('renewLeases', [renew, { name: 'registerWorker', args: registrationArguments(presence.worker, now, presence.ttlMs) }]);
    return statusesOf(leases, out as number[]);
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    const text = JSON.stringify(progress);
    const ok = await this.connection.script('attemptWrite', lease.id, lease.token, 'prog', text, recordLimits.maxProgressHistory, text);
    if (ok !== 1) throw new LeaseLostError(lease.id);
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    const ok = await this.connection.script('attemptWrite', lease.id, lease.token, 'logs', JSON.stringify(entry), recordLimits.maxLogEntries, '');
    if (ok !== 1) throw new LeaseLostError(lease.id);
  }
}

/** `lua/renew.lua`'s reply, per lease: 0 lost, 1 held, 2 held with a cancel asked for. */
function statusesOf(leases: readonly LeaseRef[], out: readonly number[]): LeaseStatus[] {
  return leases.map(({ id }, index) => ({ id, held: out[index] !== 0, cancelRequested: out[index] === 2 }));
}

/** What the claim scripts return: per job a JSON array [recovered, hash as an object, progress list, log list, attempt-history list], then the next run time or ''. */
type ClaimReply = [jobs: string[], nextRunAt: string];

/** A claimed job as the script encodes it; Lua's cjson writes an empty list as `{}`. */
type EncodedList = string[] | Record<string, never>;
type EncodedClaim = [recovered: number, fields: Record<string, string>, progress: EncodedList, logs: EncodedList, attempts: EncodedList];

const listOf = (value: EncodedList): string[] => (Array.isArray(value) ? value : []);

function claimArgs(request: ClaimRequest): Array<string | number> {
  // One random prefix per call; the script appends a counter, so each lease token is unique.
  return [request.limit, request.workerId, request.leaseMs, `${newLeaseToken()}-`, request.queues.length, ...request.queues, request.names.length, ...request.names];
}

function claimedFromReply([jobs, nextRunAt]: ClaimReply): ClaimResult {
  return {
    jobs: jobs.map((encoded) => {
      const [recovered, fields, progress, logs, attempts] = JSON.parse(encoded) as EncodedClaim;
      const record = fieldsToRecord(fields, listOf(progress), listOf(logs), listOf(attempts));
      if (!record.lease) throw new StoreError(`Claimed job "${record.id}" has no lease`, { details: { id: record.id } });
      return asClaimedJob(record, recovered === 1);
    }),
    nextRunAt: nextRunAt === '' ? null : Number(nextRunAt),
  };
}
