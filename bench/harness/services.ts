/**
 * The servers some stores need: one throwaway PostgreSQL and one throwaway Redis,
 * started by the parent once per benchmark (never the machine's own servers on 5432 or
 * 6379) and stopped when it ends. Each run still gets a fresh store on them: a new
 * database on PostgreSQL, an emptied Redis (see bench/systems/stores.ts). Measuring
 * children learn the servers' URLs from their RunSpec.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { harnessDeviations, type PostgresServer, type RedisServer, startPostgres, startRedis } from '../../test/support/index.ts';
import type { StoreKind } from '../systems/system-adapter.ts';

const execFileAsync = promisify(execFile);

export type ServiceKind = 'postgres' | 'redis';

/** Superuser URLs of the running servers, by kind. Plain JSON, so a child can be given them. */
export type ServiceUrls = Readonly<Partial<Record<ServiceKind, string>>>;

/** What the results record about each server: enough to reproduce its setup. */
export interface ServiceInfo {
  readonly kind: ServiceKind;
  readonly version: string;
  readonly settings: readonly string[];
}

/**
 * PostgreSQL as the test harness starts it: the stock configuration (jit on, fsync,
 * synchronous_commit and full_page_writes on, shared_buffers 128MB), with room for every
 * pool the peers open.
 */
const postgresSettings = { max_connections: 300 } as const;

let current: ServiceUrls = {};

/** Makes `urls` the servers that stores in this process are created on. */
export function useServices(urls: ServiceUrls): void {
  current = urls;
}

/** The running server of `kind`, or an error naming what the harness should have started. */
export function serviceUrl(kind: ServiceKind): string {
  const url = current[kind];
  if (url === undefined) throw new Error(`no ${kind} server is running for this benchmark (the harness starts one when a selected system needs it)`);
  return url;
}

export function serviceFor(store: StoreKind): ServiceKind | null {
  return store === 'postgres' || store === 'redis' ? store : null;
}

export interface RunningServices {
  readonly urls: ServiceUrls;
  readonly info: readonly ServiceInfo[];
  /**
   * Lets the writes of the runs before settle, so they do not land in the next run's time:
   * PostgreSQL writes its dirty buffers now (`CHECKPOINT`) rather than during a later run
   * (a spread checkpoint goes on for minutes), and the OS writes back every dirty page
   * (`sync`), such as a SQLite file of `synchronous=normal` or a finished peer's. Every
   * system gets the same, before each run; no setting of a server changes.
   */
  quiesce(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts one server of each kind in `kinds`; stops the ones already started if another fails. */
export async function startServices(kinds: ReadonlySet<ServiceKind>, log: (line: string) => void = () => {}): Promise<RunningServices> {
  const stops: Array<() => Promise<void>> = [];
  const urls: Partial<Record<ServiceKind, string>> = {};
  const info: ServiceInfo[] = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => {});
  };
  const checkpoints: Array<() => Promise<unknown>> = [];
  const quiesce = async () => {
    for (const checkpoint of checkpoints) await checkpoint();
    await execFileAsync('sync');
  };
  try {
    if (kinds.has('postgres')) {
      const server: PostgresServer = await startPostgres({ settings: postgresSettings });
      stops.push(() => server.stop());
      checkpoints.push(() => server.query('CHECKPOINT'));
      urls.postgres = server.url;
      const version = (await server.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown';
      info.push({
        kind: 'postgres',
        version,
        settings: [
          `a throwaway cluster on 127.0.0.1:${server.port} (test/support startPostgres), a fresh database per run`,
          'the stock configuration (jit on, fsync, synchronous_commit and full_page_writes on: every commit is flushed to disk), except:',
          ...harnessDeviations.map((deviation) => (deviation.startsWith('max_connections') ? `max_connections = ${postgresSettings.max_connections} (stock 100): room for every pool the peers open` : deviation)),
        ],
      });
      log(`Started PostgreSQL ${version} on ${server.host}:${server.port}`);
    }
    if (kinds.has('redis')) {
      const server: RedisServer = await startRedis({ appendonly: false });
      stops.push(() => server.stop());
      urls.redis = server.url;
      const infoReply = await server.command('INFO', 'server');
      const version = typeof infoReply === 'string' ? (/redis_version:(\S+)/.exec(infoReply)?.[1] ?? 'unknown') : 'unknown';
      info.push({
        kind: 'redis',
        version,
        settings: [
          `a throwaway redis-server on 127.0.0.1:${server.port} (test/support startRedis), emptied between runs`,
          'appendonly no, no RDB snapshots: nothing is written to disk, so a Redis crash loses every job (chosen for speed; Redis with appendfsync everysec would be slower and still lose up to 1 s)',
        ],
      });
      log(`Started Redis ${version} on ${server.host}:${server.port}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls, info, quiesce, stop };
}
