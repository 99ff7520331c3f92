import type { LeaseRef } from '../../contract/job-queue.ts';
import type { StepStore } from '../../contract/step-store.ts';
import { LeaseLostError } from '../../domain/errors.ts';
import type { StepRecord } from '../../domain/job-record.ts';
import type { MemoryState } from './memory-backend.ts';

/**
 * The memory backend's durable steps: a map of records per job, beside the job. A map keeps
 * the order names were first set in, which the (stable) sort by start keeps for ties.
 */
export class MemorySteps implements StepStore {
  constructor(private readonly state: MemoryState) {}

  async recordStep(lease: LeaseRef, step: StepRecord): Promise<void> {
    this.state.assertOpen();
    const job = this.state.jobs.get(lease.id);
    if (!job || job.state !== 'running' || job.lease?.token !== lease.token) throw new LeaseLostError(lease.id);
    let steps = this.state.steps.get(lease.id);
    if (!steps) this.state.steps.set(lease.id, (steps = new Map()));
    steps.set(step.name, structuredClone(step));
  }

  async listSteps(id: string): Promise<StepRecord[]> {
    this.state.assertOpen();
    return [...(this.state.steps.get(id)?.values() ?? [])].map((step) => structuredClone(step)).sort((a, b) => a.startedAt - b.startedAt);
  }
}
