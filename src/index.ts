// The public API of `jobsmith`. Every export is listed by name; nothing else is reachable.
// The declarations use Node's types (EventEmitter, AbortSignal, AsyncDisposable); this loads them
// for projects that list no `types` (TypeScript 6 and later load none by default).
/// <reference types="node" preserve="true" />
export { defineJob, Job, toJobDefinition } from './domain/define-job.ts';
export type { AnyJob, FollowUpJob, FollowUpList, JobClass, JobDefinition, JobInput, JobResult } from './domain/define-job.ts';
export type { ChildrenSummary, JobChild, JobContext } from './domain/job-context.ts';
export { jobOptionDefaults } from './domain/job-options.ts';
export type { EnqueueOnlyOptions, EnqueueOptions, JobOptions, ResolvedJobOptions } from './domain/job-options.ts';
export { backoffDelay, defaultBackoff } from './domain/backoff.ts';
export type { BackoffFunction, BackoffOption, BackoffSpec } from './domain/backoff.ts';
export type { Duration } from './domain/duration.ts';
export { toMs } from './domain/duration.ts';
export { systemClock, sleep } from './domain/clock.ts';
export type { Clock } from './domain/clock.ts';
export type { Logger } from './domain/logger.ts';
export { silentLogger } from './domain/logger.ts';
export { activeStates, isTerminal, jobStates, terminalStates } from './domain/job-state.ts';
export type { JobState } from './domain/job-state.ts';
export type { AttemptOutcome, AttemptRecord, FailedHookState, JobFlowPosition, JobLease, JobLogEntry, JobProgress, JobRecord, StepOutcome, StepRecord } from './domain/job-record.ts';
export { type CurrentAttempt, type JobEvent, attemptErrorLine, errorOutsideHistory, isEndedAttempt, jobAttempts, jobTimeline } from './domain/attempt-timeline.ts';
export { recordLimits } from './domain/job-record.ts';
export type { JsonObject, JsonPrimitive, JsonValue } from './domain/json-value.ts';
export type { SerializedError } from './domain/serialized-error.ts';
export type { StandardSchemaV1 } from './domain/standard-schema.ts';
export {
  AmbiguousIdError,
  BackendUnavailableError,
  CapabilityUnsupportedError,
  ClosedError,
  DuplicateStepError,
  InvalidFlowError,
  InvalidOptionError,
  InvalidStateError,
  InvalidScheduleError,
  InvalidUrlError,
  isJobsmithError,
  JobCancelledError,
  JobNotFoundError,
  JobsmithError,
  LeaseLostError,
  PayloadNotJsonError,
  PayloadTooLargeError,
  PayloadValidationError,
  PermanentError,
  redactUrl,
  ScheduleNotFoundError,
  StoreError,
  TimeoutError,
  UnknownJobError,
  UnknownOptionError,
  WaitTimeoutError,
  WorkerCrashedError,
  WorkerShutdownError,
} from './domain/errors.ts';
export type { JobsmithErrorCode, JobsmithErrorOptions, SchemaIssue } from './domain/errors.ts';

export { requireCapability } from './contract/capabilities.ts';

export type {
  Backend,
  BackendCapability,
  BackendEvent,
  BackendStats,
  CancelResult,
  ClaimedJob,
  ClaimRequest,
  ClaimResult,
  EnqueueCallOptions,
  EnqueueResult,
  JobPage,
  LeaseRef,
  LeaseRequest,
  LeaseStatus,
  ListFilter,
  NewJob,
  PruneRequest,
  MinuteCount,
  QueueStats,
  FireResult,
  JobAdmin,
  JobQueue,
  ScheduleInput,
  ScheduleRecord,
  ScheduleSpec,
  ScheduleTick,
  ScheduleTiming,
  ScheduleStore,
  Settlement,
  SettleResult,
  LiveWorker,
  PresenceRenewal,
  WorkerPresence,
  WorkerRegistry,
  FollowUps,
  StepStore,
  ChildFailurePolicy,
  FlowChild,
  FlowDependency,
  FlowJob,
  FlowProgress,
  FlowStore,
  NewFlow,
  RunCondition,
} from './contract/backend.ts';
export { childFailurePolicies, maxFlowJobs, waitingForChildrenRunAt } from './contract/flow-store.ts';
export { step } from './client/flow-plan.ts';
export type { BatchCallbacks, ChildDependency, FlowStep, FlowStepOptions } from './client/flow-plan.ts';

export { defaultBackendUrl, openBackend } from './backends/open-backend.ts';
export type { OpenBackendOptions } from './backends/open-backend.ts';
export { MemoryBackend } from './backends/memory/memory-backend.ts';
export type { MemoryBackendOptions } from './backends/memory/memory-backend.ts';
export { SqliteBackend } from './backends/sqlite/sqlite-backend.ts';
export type { SqliteBackendOptions } from './backends/sqlite/sqlite-backend.ts';
export type { SqliteSettings } from './backends/sqlite/sqlite-url.ts';

export { createClient, createScheduler, createWorker } from './create.ts';
export { Client } from './client/client.ts';
export type { BatchCreated, BatchProgress, ChainCreated, ClientOptions, EnqueueCall, EnqueueItem, FlowCreated, JobRun, PruneOptions, WaitOptions } from './client/client.ts';
export type { WaitExplanation, WaitReason, WaitReasonCode } from './client/wait-reasons.ts';
export { BoundJob } from './client/bound-job.ts';
export type { BatchOptions, BatchOutcome } from './client/bound-job.ts';
export { Worker } from './worker/worker.ts';
export type { WorkerHealth, WorkerOptions } from './worker/worker.ts';
export type { RunMetadata, WorkerEvents } from './execution/job-events.ts';
export { Scheduler } from './scheduler/scheduler.ts';
export type { ScheduleOptions, SchedulerEvents, SchedulerOptions } from './scheduler/scheduler.ts';
export { daily, every, monthly, weekly } from './domain/schedule-helpers.ts';
export type { EveryTiming, Weekday } from './domain/schedule-helpers.ts';
export { defineConfig } from './cli/define-config.ts';
export type { JobsmithConfig, WorkerConfig } from './cli/define-config.ts';
