-- A failed job's `failed` hook is recorded as pending in the same write as the failure,
-- and the lease stays with the worker that runs it; a worker that dies meanwhile leaves
-- it to be taken over once that lease lapses, like a running job.
ALTER TABLE jobsmith_jobs ADD COLUMN failed_hook TEXT CHECK (failed_hook IN ('pending','done'));
CREATE INDEX jobsmith_jobs_hook_pending ON jobsmith_jobs (lease_expires_at) WHERE failed_hook = 'pending';
-- The lease token of the attempt whose outcome the row holds: the same outcome written
-- again after a lost reply is recognised as applied.
ALTER TABLE jobsmith_jobs ADD COLUMN settled_token TEXT;
