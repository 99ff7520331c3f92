/**
 * `jobsmith workers` and `why`'s live-worker check, through the built bin, on a real SQLite
 * file and on the real PostgreSQL and Redis servers the suite starts. Workers are registered
 * in-process (so every field is known), and a real `jobsmith worker` child process appears in
 * the list with its own pid and is gone once SIGTERM stopped it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineJob, type WorkerPresence } from '../../src/index.ts';
import { type PostgresServer, type RedisServer, requireServers, startPostgres, startRedis } from '../support/index.ts';
import { cli, cliInTerminal, jsonLines, makeProject, type Project, startCli } from './support/cli.ts';
import { echo, fixtureConfig, hello, withClient } from './support/fixture.ts';

const servers = requireServers('postgres', 'redis');
const ansi = /\u001b\[[0-9;]*m/g;
const isoTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let project: Project;
let postgres: PostgresServer | undefined;
let redis: RedisServer | undefined;

beforeAll(async () => {
  project = await makeProject({ 'jobsmith.config.ts': fixtureConfig });
  if (!servers.skip) [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 300_000);

afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
  project?.remove();
});

const apiWorker: WorkerPresence = { id: 'api-1:100:aaa', host: 'api-1', pid: 100, queues: null, names: ['echo'], concurrency: 4, running: 2, startedAt: Date.UTC(2026, 0, 1) };
const mailWorker: WorkerPresence = { id: 'mail-1:200:bbb', host: 'mail-1', pid: 200, queues: ['mail'], names: ['hello'], concurrency: 10, running: 0, startedAt: Date.UTC(2026, 0, 1) };
/** A job no configured worker runs. */
const ghost = defineJob({ name: 'ghost', queue: 'mail', run: () => null });

const reasonsOf = (stdout: string) => jsonLines(stdout)[0]!.reasons as Array<Record<string, unknown> & { code: string; message: string }>;

/** The same walk on any store: empty, registered workers, why's check, and a real worker process. */
async function liveWorkers(url: string): Promise<void> {
  const run = (args: string[]) => cli(['--url', url, ...args], { cwd: project.dir });

  const empty = await run(['workers']);
  expect(empty).toEqual({ code: 0, stdout: '', stderr: 'No live workers.\n' });
  expect(await run(['workers', '--json'])).toEqual({ code: 0, stdout: '', stderr: '' });
  const reportsId = await withClient(url, async (client) => (await client.enqueue(echo, { n: 1 }, { queue: 'reports' })).id);
  const unserved = await run(['why', reportsId, '--json']);
  expect(unserved.code).toBe(0);
  expect(reasonsOf(unserved.stdout)).toEqual([
    {
      code: 'no-live-worker',
      blocking: true,
      missing: 'queue',
      queue: 'reports',
      name: 'echo',
      liveWorkers: 0,
      workersOnQueue: 0,
      message: 'No live worker serves queue "reports" (no worker is live): it waits until one starts.',
    },
  ]);

  const { helloId, ghostId } = await withClient(url, async (client) => {
    const backend = await client.backend();
    await backend.registerWorker!(mailWorker, 600_000);
    await backend.registerWorker!(apiWorker, 600_000);
    return { helloId: (await client.enqueue(hello, { name: 'x' }, { queue: 'reports' })).id, ghostId: (await client.enqueue(ghost, null)).id };
  });

  const text = await run(['workers']);
  expect(text.code).toBe(0);
  const lines = text.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^ID +HOST +PID +QUEUES +CONCURRENCY +RUNNING +LAST HEARTBEAT$/);
  expect(lines.slice(1).map((line) => line.replace(/\S+Z$/, 'ISO'))).toEqual([
    expect.stringMatching(/^api-1:100:aaa +api-1 +100 +all +4 +2 +ISO$/),
    expect.stringMatching(/^mail-1:200:bbb +mail-1 +200 +mail +10 +0 +ISO$/),
  ]);
  // Every column starts under its header.
  for (const line of lines.slice(1)) expect(line.slice(lines[0]!.indexOf('QUEUES'))).toMatch(/^(all|mail) /);
  const json = jsonLines((await run(['workers', '--json'])).stdout);
  expect(json).toEqual([
    { ...apiWorker, startedAt: '2026-01-01T00:00:00.000Z', lastHeartbeatAt: expect.stringMatching(isoTime), expiresAt: expect.stringMatching(isoTime) },
    { ...mailWorker, startedAt: '2026-01-01T00:00:00.000Z', lastHeartbeatAt: expect.stringMatching(isoTime), expiresAt: expect.stringMatching(isoTime) },
  ]);
  expect(Date.parse(json[0]!.expiresAt as string) - Date.parse(json[0]!.lastHeartbeatAt as string)).toBe(600_000);
  const terminal = await cliInTerminal(['--url', url, 'workers'], { cwd: project.dir });
  expect(terminal.stdout.replace(ansi, '')).toMatch(/\napi-1:100:aaa +api-1 +100 +all +4 +2 +(just now|\d+ s ago)\n/);

  // Queue served, name not: which it is, and how many serve the queue.
  const [servedEcho, helloWhy, ghostWhy] = await Promise.all([run(['why', reportsId, '--json']), run(['why', helloId]), run(['why', ghostId, '--json'])]);
  expect(reasonsOf(servedEcho.stdout)).toEqual([expect.objectContaining({ code: 'ready', workers: [apiWorker.id] })]);
  expect(helloWhy.stdout).toContain(
    'No live worker runs "hello": the 1 live worker serving queue "reports" does not know that job (2 live workers in all). It waits until one that does starts.',
  );
  expect(reasonsOf(ghostWhy.stdout)).toEqual([expect.objectContaining({ code: 'no-live-worker', missing: 'name', queue: 'mail', name: 'ghost', liveWorkers: 2, workersOnQueue: 2 })]);

  // A real worker process: listed under its own pid while it runs, gone once SIGTERM stopped it.
  const worker = await startCli(['--url', url, 'worker', '--concurrency', '3'], { cwd: project.dir });
  try {
    await worker.until('the worker to run', (line) => line.includes('jobsmith worker running'));
    const listed = jsonLines((await run(['workers', '--json'])).stdout).find((entry) => entry.pid === worker.child.pid);
    expect(listed).toMatchObject({ queues: ['mail', 'default'], names: ['hello', 'echo', 'broken'], concurrency: 3, running: 0 });
    expect(listed!.id).toMatch(new RegExp(`:${worker.child.pid}:[0-9a-f]{6}$`));
    // Served by live workers (this one and mail-1), a hello job in mail is held back only by the store: the pause, and the ghost job ahead.
    const mailHello = await withClient(url, async (client) => {
      await client.pause('mail');
      return (await client.enqueue(hello, { name: 'y' })).id;
    });
    expect(reasonsOf((await run(['why', mailHello, '--json'])).stdout).map((reason) => reason.code)).toEqual(['queue-paused', 'behind-earlier']);
    await withClient(url, (client) => client.resume('mail'));
    worker.signal('SIGTERM');
    expect(await worker.exited).toBe(0);
  } finally {
    if (worker.child.exitCode === null) worker.signal('SIGKILL');
  }
  const after = jsonLines((await run(['workers', '--json'])).stdout);
  expect(after.map((entry) => entry.id)).toEqual([apiWorker.id, mailWorker.id]);
}

describe('jobsmith workers', () => {
  it('on SQLite: none, registered ones as a table and as NDJSON, why names a queue or a job no live worker takes, and a real worker comes and goes', { timeout: 180_000 }, async () => {
    await liveWorkers(project.url);
  });

  it('a worker killed with SIGKILL stays listed until its lease passes, then drops out', { timeout: 120_000 }, async () => {
    // A 2 s lease, so the registration of a killed worker lapses quickly.
    const shortLease = await makeProject({
      'jobsmith.config.ts': `import { defineConfig, defineJob } from 'jobsmith';\nconst tick = defineJob({ name: 'tick', run: () => null });\nexport default defineConfig({ jobs: [tick], worker: { lease: '2s' } });\n`,
    });
    try {
      const worker = await startCli(['worker'], { cwd: shortLease.dir });
      await worker.until('the worker to run', (line) => line.includes('jobsmith worker running'));
      const listed = async () => jsonLines((await cli(['workers', '--json'], { cwd: shortLease.dir })).stdout);
      const [entry, ...others] = await listed();
      expect(others).toEqual([]);
      expect(entry).toMatchObject({ pid: worker.child.pid, queues: ['default'], names: ['tick'] });
      expect(Date.parse(entry!.expiresAt as string) - Date.parse(entry!.lastHeartbeatAt as string)).toBe(2000);
      worker.signal('SIGKILL');
      await worker.exited;
      const killedAt = Date.now();
      while ((await listed()).length > 0) {
        if (Date.now() - killedAt > 30_000) throw new Error('the killed worker was still listed after 30 s');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // Not before its registration lapsed: at most a lease after the kill, never sooner than it expired.
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(entry!.expiresAt as string));
    } finally {
      shortLease.remove();
    }
  });

  it('has --help with an example, and takes no arguments', async () => {
    const help = await cli(['workers', '--help'], { cwd: project.dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('$ jobsmith workers --json');
    const extra = await cli(['workers', 'some-id'], { cwd: project.dir });
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/^error: too many arguments/);
  });

  it('a store that cannot be reached: one line, exit 1', async () => {
    const down = await cli(['--url', 'postgres://jobsmith@127.0.0.1:1/nowhere', 'workers'], { cwd: project.dir });
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^error: .*127\.0\.0\.1:1/);
  });
});

describe.skipIf(servers.skip)('jobsmith workers on real servers', () => {
  it('PostgreSQL', { timeout: 180_000 }, async () => {
    await liveWorkers(`${postgres!.url}?schema=cli_workers`);
  });

  it('Redis', { timeout: 180_000 }, async () => {
    await liveWorkers(`${redis!.url}?prefix=cli-workers`);
  });
});
