// `jobsmith/postgres`: the PostgreSQL backend, for passing your own pg.Pool or options.
// These declarations use Node's types: load them for projects that list no `types`.
/// <reference types="node" preserve="true" />
export { PostgresBackend } from './postgres-backend.ts';
export type { PgQueryable, PostgresBackendOptions } from './postgres-backend.ts';
export { parsePostgresUrl } from './postgres-url.ts';
export type { PostgresUrlOptions } from './postgres-url.ts';
