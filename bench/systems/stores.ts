/**
 * Fresh stores for one run, shared by every adapter so Jobsmith and its peers get the
 * same kind of store made the same way: a new SQLite file in a temp folder, a new
 * database on the benchmark's PostgreSQL, an emptied Redis.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, escapeIdentifier } from 'pg';
import { sendOnce } from '../../test/support/resp-client.ts';
import { serviceUrl } from '../harness/services.ts';
import type { StoreRef } from './system-adapter.ts';

export function storeField(store: StoreRef, field: string): string {
  const value = store[field];
  if (value === undefined) throw new Error(`store reference has no "${field}": ${JSON.stringify(store)}`);
  return value;
}

/** A temp folder holding `jobs.db` (and later its -wal, -shm or -journal files). */
export async function createSqliteStore(): Promise<StoreRef> {
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-bench-'));
  return { directory, path: join(directory, 'jobs.db') };
}

export async function destroySqliteStore(store: StoreRef): Promise<void> {
  await rm(storeField(store, 'directory'), { recursive: true, force: true });
}

function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

async function withAdmin<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serviceUrl('postgres') });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database on the benchmark's PostgreSQL; `url` reaches it as the superuser. */
export async function createPostgresStore(): Promise<StoreRef> {
  const database = uniqueName('bench');
  await withAdmin((client) => client.query(`CREATE DATABASE ${escapeIdentifier(database)}`));
  const url = new URL(serviceUrl('postgres'));
  url.pathname = `/${database}`;
  return { database, url: url.toString() };
}

export async function destroyPostgresStore(store: StoreRef): Promise<void> {
  // FORCE ends any connection a library left open (PostgreSQL 13+).
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(storeField(store, 'database'))} WITH (FORCE)`));
}

/** The benchmark's Redis, with a queue name no earlier run used. */
export async function createRedisStore(): Promise<StoreRef> {
  const url = new URL(serviceUrl('redis'));
  return { url: url.toString(), host: url.hostname, port: url.port, queue: uniqueName('bench') };
}

/** Empties the benchmark's Redis: runs are one at a time, so everything in it is this run's. */
export async function destroyRedisStore(store: StoreRef): Promise<void> {
  await sendOnce(Number(storeField(store, 'port')), storeField(store, 'host'), ['FLUSHALL']);
}
