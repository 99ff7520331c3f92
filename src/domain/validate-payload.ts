import { PayloadValidationError, type SchemaIssue } from './errors.ts';
import type { JobDefinition } from './define-job.ts';

/** Runs the job's schema over `payload`; resolves with the parsed value or throws `PayloadValidationError`. */
export async function validatePayload<I, P>(definition: JobDefinition<I, P, unknown>, payload: unknown): Promise<P> {
  if (!definition.schema) return payload as P;
  const result = await definition.schema['~standard'].validate(payload);
  if (result.issues) {
    const issues: SchemaIssue[] = result.issues.map((issue) => ({
      message: issue.message,
      path: (issue.path ?? [])
        .map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment))
        .join('.'),
    }));
    throw new PayloadValidationError(definition.name, issues, payload);
  }
  return result.value;
}
