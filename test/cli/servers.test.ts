/**
 * The read and steer commands on the real PostgreSQL and Redis servers the suite starts:
 * list, status, why, retry, cancel, stats and queues pause, through the built bin. The store
 * is given with --url; a password in it is never printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, type RedisServer, requireServers, startPostgres, startRedis } from '../support/index.ts';
import { cli, jsonLines, makeProject, type Project } from './support/cli.ts';
import { broken, claimOne, echo, hello, withClient } from './support/fixture.ts';

const servers = requireServers('postgres', 'redis');

let project: Project;
let postgres: PostgresServer;
let redis: RedisServer;

beforeAll(async () => {
  if (servers.skip) return;
  project = await makeProject();
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
}, 300_000);

afterAll(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
  project?.remove();
});

/** The same walk through the commands on any store. */
async function readAndSteer(url: string): Promise<void> {
  const run = (args: string[]) => cli(['--url', url, ...args], { cwd: project.dir });
  const ids = await withClient(url, async (client) => {
    const failed = (await client.job(broken).now(null)).metadata.id;
    const first = (await client.enqueue(hello, { name: 'first' })).id;
    const urgent = (await client.enqueue(hello, { name: 'urgent' }, { priority: 5 })).id;
    await client.enqueue(echo, { n: 1 }, { queue: 'busy' });
    const running = await claimOne(client, 'busy', 'echo', 'test-worker:7', 600_000);
    return { failed, first, urgent, running };
  });

  const [list, listText, status, statusJson, whyFirst, whyRunning] = await Promise.all([
    run(['list', '--json']),
    run(['list']),
    run(['status', ids.failed.slice(0, 24)]),
    run(['status', ids.failed, '--json']),
    run(['why', ids.first, '--json']),
    run(['why', ids.running]),
  ]);
  expect(jsonLines(list.stdout).map((job) => job.id)).toEqual([ids.running, ids.urgent, ids.first, ids.failed]);
  expect(listText.stdout.split('\n')[0]).toMatch(/^ID +NAME +QUEUE +STATE/);
  expect(status.stdout).toMatch(/Attempts\n {2}#1 +failed +worker \S+, started \S+Z, ran \d+ ms\n {7}Error: the disk is full/);
  expect(jsonLines(statusJson.stdout)[0]).toMatchObject({ id: ids.failed, state: 'failed', attemptHistory: [{ attempt: 1, outcome: 'failed', error: { message: expect.stringContaining('the disk is full') } }] });
  // No worker runs here: the store says so (live workers).
  expect((jsonLines(whyFirst.stdout)[0]!.reasons as Array<{ code: string }>).map((reason) => reason.code)).toEqual(['behind-higher-priority', 'no-live-worker']);
  expect(whyRunning.stdout).toContain('It is running: worker test-worker:7 holds it');

  expect((await run(['retry', ids.failed])).stdout).toBe(`Retried ${ids.failed} (broken): queued in queue "default".\n`);
  expect((await run(['cancel', ids.first])).stdout).toBe(`${ids.first} (hello): cancelled.\n`);
  const [stats] = jsonLines((await run(['stats', '--json'])).stdout);
  expect(stats!.counts).toEqual({ scheduled: 0, queued: 2, running: 1, completed: 0, failed: 0, cancelled: 1 });

  expect((await run(['queues', 'pause', 'mail'])).code).toBe(0);
  const [queues, whyUrgent] = await Promise.all([run(['queues', '--json']), run(['why', ids.urgent, '--json'])]);
  expect(jsonLines(queues.stdout).find((queue) => queue.queue === 'mail')).toMatchObject({ paused: true, waiting: 1 });
  expect((jsonLines(whyUrgent.stdout)[0]!.reasons as Array<{ code: string }>).map((reason) => reason.code)).toEqual(['queue-paused', 'no-live-worker']);
}

describe.skipIf(servers.skip)('on real servers', () => {
  it('PostgreSQL: list, status, why, retry, cancel, stats, queues pause', { timeout: 180_000 }, async () => {
    await readAndSteer(`${postgres.url}?schema=cli_steer`);
  });

  it('Redis: list, status, why, retry, cancel, stats, queues pause', { timeout: 180_000 }, async () => {
    await readAndSteer(`${redis.url}?prefix=cli-steer`);
  });

  it("PostgreSQL with a password: it works, and the password is never printed, right or wrong", { timeout: 120_000 }, async () => {
    const { user, password } = postgres.passwordRole;
    await postgres.createDatabase('cli_password', { owner: user });
    const right = await cli(['--url', postgres.urlFor({ user, password, database: 'cli_password' }), 'migrate'], { cwd: project.dir });
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toMatch(/^postgres:\/\/jobsmith_test:\*\*\*@127\.0\.0\.1:\d+\/cli_password: migrations are up to date\./);
    expect(right.stdout).not.toContain(password);
    const wrongPassword = 'not-the-s3cret';
    const wrong = await cli(['--url', postgres.urlFor({ user, password: wrongPassword }), 'list', '--verbose'], { cwd: project.dir });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('password authentication failed');
    expect(wrong.stderr).not.toContain(wrongPassword);
  });
});
