/**
 * The statements a claim runs, in one place so tests can check their query plans
 * (EXPLAIN QUERY PLAN) against exactly what the backend executes.
 */
export const claimSql = {
  anyClaimable: `SELECT 1 AS claimable WHERE
      EXISTS (SELECT 1 FROM jobsmith_jobs WHERE state = 'queued'
        AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))
      OR EXISTS (SELECT 1 FROM jobsmith_jobs WHERE state = 'scheduled' AND run_at <= ?
        AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))
      OR EXISTS (SELECT 1 FROM jobsmith_jobs WHERE state = 'running' AND lease_expires_at <= ?
        AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))
      OR EXISTS (SELECT 1 FROM jobsmith_jobs WHERE failed_hook = 'pending' AND lease_expires_at <= ?
        AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))`,
  ready: `SELECT seq, priority, run_at FROM jobsmith_jobs
      WHERE state = 'queued' AND queue = ? AND name IN (SELECT value FROM json_each(?))
      ORDER BY priority DESC, run_at, seq LIMIT ?`,
  // INDEXED BY: left to itself the planner walks every running row through the state index.
  expired: `SELECT id, cancel_requested, keep_failed_ms, queue FROM jobsmith_jobs INDEXED BY jobsmith_jobs_running
      WHERE state = 'running' AND lease_expires_at <= ?
        AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?))
      ORDER BY lease_expires_at LIMIT ?`,
  // Failed jobs whose \`failed\` hook is pending under a lease that lapsed: their worker died.
  expiredHooks: `SELECT id FROM jobsmith_jobs INDEXED BY jobsmith_jobs_hook_pending
      WHERE failed_hook = 'pending' AND lease_expires_at <= ?
        AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?))
      ORDER BY lease_expires_at LIMIT ?`,
  promote: "UPDATE jobsmith_jobs SET state = 'queued' WHERE state = 'scheduled' AND run_at <= ?",
  nextRunAt: `SELECT min(run_at) AS at FROM jobsmith_jobs
      WHERE state = 'scheduled' AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?))`,
  startBatch: `UPDATE jobsmith_jobs SET state = 'running', started_at = ?, lease_token = ? || seq, lease_worker = ?, lease_expires_at = ?
      WHERE seq IN (SELECT value FROM json_each(?)) RETURNING *`,
} as const;
