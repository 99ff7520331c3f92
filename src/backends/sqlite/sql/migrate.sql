-- How sqlite-migrations.ts records the versions it applied (the table every Jobsmith
-- SQLite file has had since its first release).

-- name: createVersionsTable
CREATE TABLE IF NOT EXISTS jobsmith_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)

-- name: appliedVersions
SELECT version FROM jobsmith_migrations

-- name: recordVersion
INSERT INTO jobsmith_migrations (version, applied_at) VALUES (?, ?)
