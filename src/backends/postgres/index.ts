// `jobsmith/postgres`: the PostgreSQL backend, for passing your own pg.Pool or options.
// Node's types, for projects that list no `types` (see src/index.ts).
/// <reference types="node" preserve="true" />
export { PostgresBackend } from './postgres-backend.ts';
export type { PgQueryable, PostgresBackendOptions } from './postgres-backend.ts';
export { parsePostgresUrl } from './postgres-url.ts';
export type { PostgresUrlOptions } from './postgres-url.ts';
