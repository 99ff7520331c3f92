import type { StepRecord } from '../domain/job-record.ts';
import type { LeaseRef } from './job-queue.ts';

/**
 * The role of capability `durable-steps`: a job's named steps (`ctx.step`, `ctx.sleep`),
 * kept beside the job, one record per name, and removed with it. A step's record is written
 * by the attempt that ran it, fenced by that attempt's lease like every attempt's write; a
 * later attempt reads them back and skips every step recorded `completed`.
 */
export interface StepStore {
  /**
   * Stores `step` under its name for the running attempt holding `lease`, replacing the
   * record of an earlier run of that name. Throws `LeaseLostError`, changing nothing, when
   * the attempt no longer holds the job.
   */
  recordStep(lease: LeaseRef, step: StepRecord): Promise<void>;
  /**
   * The job's steps in the order they started, those that started at the same ms in the order
   * their names were first recorded; empty for a job without any, or no such job.
   */
  listSteps(id: string): Promise<StepRecord[]>;
}
