import { createHash } from 'node:crypto';

/**
 * A statement the backend runs on every enqueue or every worker round trip. It is sent as a
 * named prepared statement, so each connection parses and plans it once instead of on every
 * call: for the enqueue INSERT (fifteen unnest arrays, a CTE and ON CONFLICT against a
 * partial unique index) planning was about a third of a one-job enqueue.
 * Their texts are `insertJobs`, `insertKeylessJobs`, `insertSharedJobs` and `settleAndClaim` in sql/queue.sql.
 *
 * Hot statements return fixed column types (never `SELECT *` of a table), so a later
 * migration that adds a column cannot break a statement a running process has prepared.
 */
export interface HotStatement {
  /** Derived from the text, so two schemas, or two versions of Jobsmith, sharing a pool never give one name to different SQL. */
  readonly name: string;
  readonly text: string;
}

export function hotStatement(purpose: string, text: string): HotStatement {
  // PostgreSQL truncates names at 63 bytes; this stays far below.
  return { name: `jobsmith_${purpose}_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
}
