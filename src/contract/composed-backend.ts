import { CapabilityUnsupportedError } from '../domain/errors.ts';
import type { JobLogEntry, JobProgress, JobRecord, StepRecord } from '../domain/job-record.ts';
import type { Backend, BackendEvent } from './backend.ts';
import { type BackendCapability, requireCapability } from './capabilities.ts';
import type { BackendStats, CancelResult, JobAdmin, JobPage, ListFilter, PruneRequest } from './job-admin.ts';
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
} from './job-queue.ts';
import type { FireResult, ScheduleInput, ScheduleRecord, ScheduleStore, ScheduleTick } from './schedule-store.ts';
import type { LiveWorker, PresenceRenewal, WorkerPresence, WorkerRegistry } from './worker-registry.ts';
import type { StepStore } from './step-store.ts';
import type { FlowChild, FlowProgress, FlowStore, NewFlow } from './flow-store.ts';

/** The role objects a backend is made of. */
export interface BackendRoles {
  queue: JobQueue;
  admin: JobAdmin;
  schedules: ScheduleStore;
  /** The `live-workers` role, on a backend that declares it. */
  workers?: WorkerRegistry;
  /** Capability `durable-steps`. */
  steps?: StepStore;
  /** Capability `flows`. */
  flows?: FlowStore;
}

/**
 * A backend made of one object per role of the contract, as every backend Jobsmith ships
 * is: `<kind>-queue.ts`, `<kind>-admin.ts` and `<kind>-schedules.ts` in its folder, sharing
 * the connection its `<kind>-backend.ts` holds. The contract's methods are passed to the role
 * that keeps them here, once for every backend; a subclass adds its lifecycle (open, close,
 * now, subscribe), its kind and its capabilities.
 */
export abstract class ComposedBackend implements Backend {
  abstract readonly kind: string;
  abstract readonly capabilities: ReadonlySet<BackendCapability>;
  readonly inProcess?: boolean;

  constructor(private readonly roles: BackendRoles) {}

  abstract open(): Promise<void>;
  abstract close(): Promise<void>;
  abstract now(): number;
  subscribe?(listener: (event: BackendEvent) => void): () => void;

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  enqueue(jobs: readonly NewJob[], options?: EnqueueCallOptions): Promise<EnqueueResult[]> {
    return this.roles.queue.enqueue(jobs, options);
  }
  enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    return this.roles.queue.enqueueRunning(job, lease);
  }
  claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.roles.queue.claim(request);
  }
  settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    return this.roles.queue.settle(settlements, next);
  }
  renewLeases(leases: readonly LeaseRef[], leaseMs: number, presence?: PresenceRenewal): Promise<LeaseStatus[]> {
    return this.roles.queue.renewLeases(leases, leaseMs, presence);
  }
  recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    return this.roles.queue.recordProgress(lease, progress);
  }
  appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    return this.roles.queue.appendLog(lease, entry);
  }

  async get(id: string): Promise<JobRecord | null> {
    const record = await this.roles.admin.get(id);
    // A second read: a step recorded between the two shows, which a record can only gain by.
    if (record && this.roles.steps) record.steps = await this.roles.steps.listSteps(id);
    return record;
  }
  findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    return this.roles.admin.findByIdPrefix(prefix, limit);
  }
  list(filter: ListFilter): Promise<JobPage> {
    return this.roles.admin.list(filter);
  }
  cancel(id: string): Promise<CancelResult> {
    return this.roles.admin.cancel(id);
  }
  retry(id: string): Promise<JobRecord> {
    return this.roles.admin.retry(id);
  }
  delete(id: string): Promise<boolean> {
    return this.roles.admin.delete(id);
  }
  prune(request: PruneRequest): Promise<number> {
    return this.roles.admin.prune(request);
  }
  stats(): Promise<BackendStats> {
    return this.roles.admin.stats();
  }
  pause(queue: string): Promise<void> {
    return this.roles.admin.pause(queue);
  }
  resume(queue: string): Promise<void> {
    return this.roles.admin.resume(queue);
  }

  recordStep(lease: LeaseRef, step: StepRecord): Promise<void> {
    return this.stepStore().recordStep(lease, step);
  }
  listSteps(id: string): Promise<StepRecord[]> {
    return this.stepStore().listSteps(id);
  }
  private stepStore(): StepStore {
    if (!this.roles.steps) throw new CapabilityUnsupportedError(this.kind, 'durable-steps');
    return this.roles.steps;
  }

  enqueueFlow(flow: NewFlow, options?: EnqueueCallOptions): Promise<void> {
    return this.flowStore().enqueueFlow(flow, options);
  }
  listChildren(parentId: string): Promise<FlowChild[]> {
    return this.flowStore().listChildren(parentId);
  }
  flowProgress(flowId: string): Promise<FlowProgress | null> {
    return this.flowStore().flowProgress(flowId);
  }
  private flowStore(): FlowStore {
    if (!this.roles.flows) throw new CapabilityUnsupportedError(this.kind, 'flows');
    return this.roles.flows;
  }

  upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    return this.roles.schedules.upsertSchedule(input);
  }
  getSchedule(id: string): Promise<ScheduleRecord | null> {
    return this.roles.schedules.getSchedule(id);
  }
  listSchedules(): Promise<ScheduleRecord[]> {
    return this.roles.schedules.listSchedules();
  }
  removeSchedule(id: string): Promise<boolean> {
    return this.roles.schedules.removeSchedule(id);
  }
  setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    return this.roles.schedules.setScheduleEnabled(id, enabled, nextRunAt);
  }
  fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    return this.roles.schedules.fireSchedule(tick);
  }

  // The live-workers role, when there is one. Declared as methods (not left undefined) so
  // `backend.registerWorker?.()` finds them; `requireCapability` guards a backend without it.
  registerWorker(worker: WorkerPresence, ttlMs: number): Promise<void> {
    return this.workersRole().registerWorker(worker, ttlMs);
  }
  deregisterWorker(workerId: string): Promise<boolean> {
    return this.workersRole().deregisterWorker(workerId);
  }
  listWorkers(): Promise<LiveWorker[]> {
    return this.workersRole().listWorkers();
  }

  private workersRole(): WorkerRegistry {
    requireCapability(this, 'live-workers');
    if (!this.roles.workers) throw new CapabilityUnsupportedError(this.kind, 'live-workers');
    return this.roles.workers;
  }
}
