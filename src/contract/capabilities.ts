import { CapabilityUnsupportedError } from '../domain/errors.ts';

/**
 * What a backend may be able to do beyond the three roles every backend keeps (queue,
 * administration, schedules). A backend lists the ones it has in `capabilities`; the
 * conformance suite runs a capability's tests only on the backends that declare it, and
 * fails one that declares it and does not keep it. Features still to come (flows,
 * limits) arrive as capabilities, so a backend can gain them one by one.
 */
export type BackendCapability =
  /** `enqueue(jobs, { tx })` writes the jobs in the caller's own transaction (PostgreSQL). */
  | 'transactional-enqueue'
  /** `subscribe()` reports changes made through this backend as they happen. */
  | 'change-events'
  /**
   * Workers register in the store (`registerWorker`, renewed by the heartbeat through
   * `renewLeases`'s `presence`), and `listWorkers()` lists the live ones (worker-registry.ts).
   */
  | 'live-workers'
  /** `recordStep` / `listSteps` (`step-store.ts`): a job's named steps, kept with it and fenced by the lease. */
  | 'durable-steps'
  /** `enqueueFlow` / `listChildren` / `flowProgress` (`flow-store.ts`): jobs that wait for other jobs. */
  | 'flows';

/** The part of a backend this check reads. */
interface DeclaresCapabilities {
  readonly kind: string;
  readonly capabilities: ReadonlySet<BackendCapability>;
}

/**
 * Throws `CapabilityUnsupportedError`, naming the backend and the capability, unless the
 * backend declares `capability`: a caller that needs one fails with a typed error at open or
 * at the call, never with a `TypeError` on a missing method.
 */
export function requireCapability(backend: DeclaresCapabilities, capability: BackendCapability): void {
  if (!backend.capabilities.has(capability)) throw new CapabilityUnsupportedError(backend.kind, capability);
}
