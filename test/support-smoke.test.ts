/**
 * Smoke test of the throwaway-server harness in test/support: each server starts on its
 * own port (never the machine's 5432/6379), survives a crash restart with its data, can
 * have its connections cut, and leaves no process and no temp folder once stopped.
 */
import { existsSync } from 'node:fs';
import { Client, DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import {
  isProcessAlive,
  RespClient,
  RespConnectionClosedError,
  requireServers,
  startPostgres,
  startRedis,
  trackedServers,
} from './support/index.ts';

const servers = requireServers('postgres', 'redis');

/** A pg client whose asynchronous errors (a terminated backend) are recorded, not thrown. */
function recordingClient(connectionString: string): { client: Client; errors: Error[] } {
  const client = new Client({ connectionString, ssl: false });
  const errors: Error[] = [];
  client.on('error', (error) => errors.push(error));
  return { client, errors };
}

describe.skipIf(servers.skip)('test support: throwaway servers', () => {
  it('PostgreSQL: query, crash restart keeps data, kill/start, terminate, password auth, clean stop', async () => {
    const pg = await startPostgres();
    const { dir } = pg;
    let lastPid: number | undefined;
    try {
      expect(pg.port).not.toBe(5432);
      expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);
      const version = await pg.query<{ server_version: string }>('SHOW server_version');
      expect(version.rows[0]?.server_version).toMatch(/^\d+/);

      await pg.query('CREATE TABLE survivors (id int PRIMARY KEY, note text NOT NULL)');
      await pg.query('INSERT INTO survivors VALUES ($1, $2)', [1, 'committed before the crash']);

      // Immediate restart = crash: the row must come back through WAL recovery.
      const { port } = pg;
      const pidBefore = pg.pid;
      await pg.restart({ mode: 'immediate' });
      expect(pg.port).toBe(port);
      expect(pg.pid).not.toBe(pidBefore);
      expect(pg.logTail(200)).toMatch(/not properly shut down; automatic recovery in progress/);
      const afterCrash = await pg.query<{ note: string }>('SELECT note FROM survivors WHERE id = 1');
      expect(afterCrash.rows).toEqual([{ note: 'committed before the crash' }]);

      await pg.kill();
      expect(pg.running).toBe(false);
      await pg.start();
      expect(pg.port).toBe(port);
      expect((await pg.query('SELECT 1 FROM survivors')).rowCount).toBe(1);

      // A connected client loses its session, and its next query fails.
      const { client, errors } = recordingClient(pg.url);
      await client.connect();
      await client.query('SELECT 1');
      expect(await pg.terminateConnections()).toBe(1);
      await expect(client.query('SELECT 1')).rejects.toThrow();
      await client.end().catch(() => undefined);
      expect(errors.map((error) => (error instanceof DatabaseError ? error.code : error.message))).toContain('57P01');

      // Password roles: the right password gets in, a wrong one is refused as such (28P01).
      const right = new Client({ connectionString: pg.passwordRole.url, ssl: false });
      await right.connect();
      expect((await right.query<{ user: string }>('SELECT current_user AS user')).rows[0]?.user).toBe('jobsmith_test');
      await right.query('CREATE TABLE owned_by_role (id int)');
      await right.end();
      const wrong = new Client({ connectionString: pg.urlFor({ user: 'jobsmith_test', password: 'not-the-password' }), ssl: false });
      wrong.on('error', () => undefined);
      const refusal = await wrong.connect().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refusal).toBeInstanceOf(DatabaseError);
      expect((refusal as DatabaseError).code).toBe('28P01');

      // Names and passwords that need quoting and URL-encoding.
      const appUrl = await pg.createRole('app user', "p@ss'word", { superuser: false });
      expect(appUrl).toBe(pg.urlFor({ user: 'app user', password: "p@ss'word" }));
      await pg.createDatabase('jobsmith smoke', { owner: 'app user' });
      const app = new Client({ connectionString: pg.urlFor({ user: 'app user', password: "p@ss'word", database: 'jobsmith smoke' }), ssl: false });
      await app.connect();
      expect((await app.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db).toBe('jobsmith smoke');
      await app.end();
      lastPid = pg.pid;
    } finally {
      await pg.stop();
    }
    await pg.stop(); // idempotent
    expect(lastPid).toBeDefined();
    expect(isProcessAlive(lastPid ?? 0)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(trackedServers()).toEqual([]);
  });

  it('Redis: command, crash and clean restarts keep AOF data, client kill, clean stop', async () => {
    const redis = await startRedis({ appendonly: true });
    const { dir } = redis;
    let lastPid: number | undefined;
    try {
      expect(redis.port).not.toBe(6379);
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(await redis.command('SET', 'survivor', 'acknowledged before the crash')).toBe('OK');

      // SIGKILL: an acknowledged write is already in the AOF (written before the reply).
      const { port } = redis;
      const pidBefore = redis.pid;
      await redis.restart({ mode: 'kill' });
      expect(redis.port).toBe(port);
      expect(redis.pid).not.toBe(pidBefore);
      expect(await redis.command('GET', 'survivor')).toBe('acknowledged before the crash');

      await redis.restart(); // SHUTDOWN and start
      expect(redis.port).toBe(port);
      expect(await redis.command('GET', 'survivor')).toBe('acknowledged before the crash');

      const client = await RespClient.connect(redis.port, redis.host);
      expect(await client.send('PING')).toBe('PONG');
      expect(await redis.clientKillAll()).toBe(1);
      await expect(client.send('PING')).rejects.toBeInstanceOf(RespConnectionClosedError);
      await client.close();
      lastPid = redis.pid;
    } finally {
      await redis.stop();
    }
    await redis.stop(); // idempotent
    expect(lastPid).toBeDefined();
    expect(isProcessAlive(lastPid ?? 0)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(trackedServers()).toEqual([]);
  });
});
