CREATE TABLE jobsmith_jobs (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  queue TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('scheduled','queued','running','completed','failed','cancelled')),
  payload TEXT NOT NULL,
  metadata TEXT NOT NULL,
  priority INTEGER NOT NULL,
  key TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  crashes INTEGER NOT NULL DEFAULT 0,
  backoff TEXT,
  timeout_ms INTEGER,
  keep_completed_ms INTEGER,
  keep_failed_ms INTEGER,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  result TEXT,
  error TEXT,
  progress TEXT,
  progress_history TEXT NOT NULL DEFAULT '[]',
  logs TEXT NOT NULL DEFAULT '[]',
  lease_token TEXT,
  lease_worker TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER
);
-- Claim order within a queue; partial, so it holds only runnable rows and stays small
-- however many finished jobs the table keeps.
CREATE INDEX jobsmith_jobs_ready ON jobsmith_jobs (queue, priority DESC, run_at, seq) WHERE state = 'queued';
CREATE INDEX jobsmith_jobs_scheduled ON jobsmith_jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobsmith_jobs_running ON jobsmith_jobs (lease_expires_at) WHERE state = 'running';
-- A key is held only while its job is waiting or running.
CREATE UNIQUE INDEX jobsmith_jobs_key ON jobsmith_jobs (name, key)
  WHERE key IS NOT NULL AND state IN ('scheduled','queued','running');
CREATE INDEX jobsmith_jobs_expires ON jobsmith_jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX jobsmith_jobs_finished ON jobsmith_jobs (state, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobsmith_jobs_state ON jobsmith_jobs (state, queue);

CREATE TABLE jobsmith_queues (
  name TEXT PRIMARY KEY,
  paused INTEGER NOT NULL DEFAULT 0,
  last_processed_at INTEGER
);

-- Finished-job counts per queue in 10-second buckets, for stats that outlive pruning.
CREATE TABLE jobsmith_counts (
  queue TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, bucket)
) WITHOUT ROWID;
