-- A job's durable steps (ctx.step, ctx.sleep): one row per step name, its latest record as
-- JSON, removed with its job. Rows of their own, so recording a step rewrites one small row,
-- not a growing array in the job's. `seq` orders steps that started in the same ms.
CREATE TABLE jobsmith_steps (
  seq INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES jobsmith_jobs (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  record TEXT NOT NULL,
  UNIQUE (job_id, name)
);
