-- The statements that apply the numbered migrations (postgres-migrations.ts) or, with
-- `migrate: false`, check that the server answers. :SCHEMA is the quoted schema name.

-- name: ping
SELECT 1

-- name: lockMigrations
-- Ten processes starting at once: the first migrates, the rest wait here and find nothing to do.
SELECT pg_advisory_xact_lock(hashtext($1))

-- name: createSchema
CREATE SCHEMA IF NOT EXISTS :SCHEMA

-- name: createVersionsTable
CREATE TABLE IF NOT EXISTS :SCHEMA.migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)

-- name: appliedVersions
SELECT version FROM :SCHEMA.migrations

-- name: recordVersion
INSERT INTO :SCHEMA.migrations (version, applied_at) VALUES ($1, $2)
