import { JobsmithError, StoreError, isJobsmithError } from '../../domain/errors.ts';

/** SQLSTATE classes and codes after which the same call may succeed once the server is back. */
const transientCodes = new Set([
  '57P01', // admin_shutdown: the server is restarting or our backend was terminated
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);
const transientNodeCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** What each non-transient failure means for someone setting Jobsmith up. */
const explanations: Record<string, string> = {
  '28P01': 'the password was rejected',
  '28000': 'the role may not log in',
  '3D000': 'the database does not exist',
  '42501': 'the role lacks the rights this needs on the schema (see migrate: false in the README)',
  '3F000': 'the schema does not exist and migrate is off',
  '42P01': 'the Jobsmith tables are missing: run the migrations (migrate: true)',
};

/**
 * Wraps a pg or network failure in a `StoreError` that says what went wrong and whether
 * trying again may help. Jobsmith's own errors pass through unchanged.
 */
export function toStoreError(operation: string, error: unknown, schema: string): unknown {
  if (isJobsmithError(error) && !(error instanceof StoreError)) return error;
  if (error instanceof JobsmithError) return error;
  const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const connectionLost = /Connection terminated|connection timeout|Client has encountered a connection error|Connection closed|not queryable/i.test(message);
  const transient = (code !== undefined && (transientCodes.has(code) || code.startsWith('08') || transientNodeCodes.has(code))) || connectionLost;
  const meaning = code && explanations[code] ? `: ${explanations[code]}` : '';
  return new StoreError(`PostgreSQL ${operation} failed (schema "${schema}")${meaning}: ${message}`, {
    cause: error,
    transient,
    details: { operation, schema, ...(code === undefined ? {} : { pgCode: code }) },
  });
}
