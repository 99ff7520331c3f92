import type { JobState } from './job-state.ts';
import type { JsonValue } from './json-value.ts';
import type { SerializedError } from './serialized-error.ts';

/** What happens to a parent when a child does not complete (fails for good, is cancelled or deleted). */
export type ChildFailurePolicy = 'fail' | 'cancel' | 'ignore' | 'continue';

export const childFailurePolicies: readonly ChildFailurePolicy[] = ['fail', 'cancel', 'ignore', 'continue'];

/** A child as its parent reads it (`ctx.children()`). */
export interface FlowChild {
  id: string;
  name: string;
  /** Null when the child was deleted or pruned after it finished. */
  state: JobState | null;
  /** What it returned, when `completed`. */
  result: JsonValue | null;
  error: SerializedError | null;
  onChildFailure: ChildFailurePolicy;
  finishedAt: number | null;
}

/** `runAt` of a parent waiting for its children: the largest time a JavaScript Date holds, never due. */
export const waitingForChildrenRunAt = 8_640_000_000_000_000;
