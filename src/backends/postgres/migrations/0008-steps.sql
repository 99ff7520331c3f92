-- A job's durable steps (ctx.step, ctx.sleep): one row per step name, its latest record,
-- removed with its job. Rows of their own, so recording a step writes one small row and
-- leaves the job's row (and the claim's hot path) alone. `seq` orders steps that started
-- in the same ms.
CREATE TABLE :SCHEMA.steps (
  job_id uuid NOT NULL REFERENCES :SCHEMA.jobs (id) ON DELETE CASCADE,
  name text NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  started_at bigint NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (job_id, name)
);
