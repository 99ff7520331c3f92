/**
 * The commands that change the store or the project: retry (one, or every failed job with a
 * confirmation), cancel, delete, failed and failed flush, prune, queues pause/resume, stats,
 * schedules, migrate and init (the dashboard: dashboard.test.ts). A real SQLite file; the built bin in child processes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScheduler, step } from '../../src/index.ts';
import { cli, cliInTerminal, jsonLines, makeProject, type Project, startCli } from './support/cli.ts';
import { broken, claimOne, echo, fixtureConfig, fixtureJobs, hello, withClient } from './support/fixture.ts';

let project: Project;
const run = (args: string[], env?: Record<string, string>) => cli(args, { cwd: project.dir, ...(env ? { env } : {}) });
const states = async () => Object.fromEntries(jsonLines((await run(['list', '--all', '--json'])).stdout).map((job) => [job.id as string, job.state as string]));
const failedCount = async () => (jsonLines((await run(['stats', '--json'])).stdout)[0]!.counts as { failed: number }).failed;

beforeAll(async () => {
  project = await makeProject({ 'jobsmith.config.ts': fixtureConfig });
}, 300_000);

afterAll(() => project?.remove());

describe('failed jobs', () => {
  const failed: string[] = [];

  beforeAll(async () => {
    await withClient(project.url, async (client) => {
      for (const queue of ['default', 'default', 'default', 'other']) failed.push((await client.job(broken).now(null, { queue })).metadata.id);
    });
  });

  it('failed lists them with the first line of the last error; --json one per line', async () => {
    const [text, json, other] = await Promise.all([run(['failed']), run(['failed', '--json']), run(['failed', '--queue', 'other', '--json'])]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +QUEUE +FAILED +ATTEMPTS +LAST ERROR$/);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/ broken +other +\S+Z +1\/1 +Error: the disk is full$/);
    expect(text.stdout).not.toContain('second line');
    expect(jsonLines(json.stdout).map((job) => job.id)).toEqual([...failed].reverse());
    expect(jsonLines(other.stdout).map((job) => job.id)).toEqual([failed[3]]);
  });

  it('retry --all-failed will not go ahead unasked: without a terminal it needs --yes (exit 2); a "no" changes nothing (exit 1)', async () => {
    const refused = await run(['retry', '--all-failed']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: Retry all 4 failed jobs\? Nobody can answer here \(stdin is not a terminal\): add --yes to go ahead\.\n$/);
    const no = await cliInTerminal(['retry', '--all-failed'], { cwd: project.dir, input: 'n\n' });
    expect(no.code).toBe(1);
    expect(no.stdout).toContain('Retry all 4 failed jobs? [y/N]');
    expect(no.stdout).toContain('error: Not confirmed; nothing was changed.');
    expect(await failedCount()).toBe(4);
  });

  it('retry <id> puts one back; retrying a job that is not failed or cancelled exits 1', async () => {
    const one = await run(['retry', failed[0]!.slice(0, 24)]);
    expect(one).toMatchObject({ code: 0, stdout: `Retried ${failed[0]} (broken): queued in queue "default".\n` });
    const again = await run(['retry', failed[0]!]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: Cannot retry job "${failed[0]}": it is queued.\n`);
    expect((await run(['retry'])).code).toBe(2);
  });

  it('retry --all-failed --queue, asked and answered on a terminal, then with --yes', async () => {
    const yes = await cliInTerminal(['retry', '--all-failed', '--queue', 'other'], { cwd: project.dir, input: 'y\n' });
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('Retry all 1 failed job in queue "other"? [y/N]');
    expect(yes.stdout).toContain('Retried 1 failed job.');
    const rest = await run(['retry', '--all-failed', '--yes', '--json']);
    expect(jsonLines(rest.stdout)).toEqual([{ retried: 2, skipped: 0 }]);
    const after = await states();
    for (const id of failed) expect(after[id]).toBe('queued');
    expect((await run(['retry', '--all-failed', '--yes'])).stdout).toBe('No failed jobs.\n');
  });

  it('failed flush removes failed jobs: asked for, --older-than keeps the recent ones', async () => {
    await withClient(project.url, async (client) => {
      for (let n = 0; n < 2; n++) await client.job(broken).now(null);
    });
    expect((await run(['failed', 'flush'])).code).toBe(2);
    expect(jsonLines((await run(['failed', 'flush', '--older-than', '7d', '--yes', '--json'])).stdout)).toEqual([{ removed: 0 }]);
    expect(await failedCount()).toBe(2);
    const flushed = await run(['failed', 'flush', '--yes']);
    expect(flushed).toMatchObject({ code: 0, stdout: 'Removed 2 failed jobs.\n' });
    expect(await failedCount()).toBe(0);
    expect((await run(['failed', 'flush', '--older-than', 'soon', '--yes'])).code).toBe(2);
  });
});

describe('cancel, delete, prune', () => {
  it('cancel stops a waiting job at once and asks a running one to stop', async () => {
    const { waiting, running } = await withClient(project.url, async (client) => {
      const waitingId = (await client.enqueue(echo, { n: 1 }, { queue: 'c1' })).id;
      await client.enqueue(echo, { n: 2 }, { queue: 'c2' });
      return { waiting: waitingId, running: await claimOne(client, 'c2', 'echo', 'test-worker:2', 600_000) };
    });
    expect(await run(['cancel', waiting])).toMatchObject({ code: 0, stdout: `${waiting} (echo): cancelled.\n` });
    expect((await run(['cancel', waiting])).stdout).toBe(`${waiting} (echo): already cancelled; nothing changed.\n`);
    const json = await run(['cancel', running, '--json']);
    expect(jsonLines(json.stdout)[0]).toMatchObject({ outcome: 'cancel-requested', job: { id: running, state: 'running', cancelRequested: true } });
    expect((await run(['delete', running])).code).toBe(1);
    expect(await run(['delete', waiting])).toMatchObject({ code: 0, stdout: `Deleted ${waiting} (echo).\n` });
    expect((await run(['status', waiting])).code).toBe(2);
    expect((await run(['cancel', 'ffffffff'])).code).toBe(2);
  });

  it('prune removes finished jobs older than --older-than, in the states given', async () => {
    await withClient(project.url, async (client) => {
      await client.job(hello).now({ name: 'old' });
      await client.job(broken).now(null);
    });
    expect((await run(['prune'])).code).toBe(2);
    expect((await run(['prune', '--older-than', '0', '--state', 'queued'])).stderr).toBe('error: prune removes finished jobs only; queued is not finished.\n');
    const kept = await run(['prune', '--older-than', '1h']);
    expect(kept.stdout).toBe('Removed 0 finished jobs (completed, failed, cancelled).\n');
    const completed = await run(['prune', '--older-than', '0', '--state', 'completed', '--json']);
    expect(jsonLines(completed.stdout)).toEqual([{ removed: 1 }]);
    expect(Object.values(await states())).not.toContain('completed');
    expect(Object.values(await states())).toContain('failed');
  });
});

describe('queues and stats', () => {
  it('queues pause and resume: workers stop claiming, and why says so', async () => {
    const id = await withClient(project.url, async (client) => (await client.enqueue(hello, { name: 'q' })).id);
    expect(await run(['queues', 'pause', 'mail'])).toMatchObject({ code: 0, stdout: 'Queue "mail" paused. Workers stop claiming from the queue; running jobs go on.\n' });
    const queues = jsonLines((await run(['queues', '--json'])).stdout);
    expect(queues.find((queue) => queue.queue === 'mail')).toMatchObject({ paused: true, waiting: 1 });
    expect((await run(['queues'])).stdout).toMatch(/\nmail +paused +1 +0 +0 +0 +\S+\n/);
    expect((await run(['why', id])).stdout).toContain('Queue "mail" is paused');
    expect((await run(['queues', 'resume', 'mail'])).stdout).toBe('Queue "mail" resumed. Workers claim from the queue again.\n');
    expect(jsonLines((await run(['queues', '--json'])).stdout).find((queue) => queue.queue === 'mail')).toMatchObject({ paused: false });
  });

  it('queues: a flow parent waiting for its children counts apart from the jobs waiting to run', async () => {
    await withClient(project.url, (client) =>
      client.flow({
        child: step(echo, 'first', { queue: 'reports' }),
        other: step(echo, 'second', { queue: 'reports', delay: 60_000 }),
        parent: step(echo, 'merge', { queue: 'reports', children: ['child', 'other'] }),
      }),
    );
    const text = await run(['queues']);
    expect(text.stdout.split('\n')[0]).toMatch(/^QUEUE +STATUS +WAITING +WAITING FOR CHILDREN +RUNNING +FAILED +LAST PROCESSED$/);
    // One queued and one delayed child wait to run; the parent waits for them.
    expect(text.stdout).toMatch(/\nreports +active +2 +1 +0 +0 +—\n/);
    const reports = jsonLines((await run(['queues', '--json'])).stdout).find((queue) => queue.queue === 'reports');
    expect(reports).toMatchObject({ paused: false, waiting: 2, waitingForChildren: 1, running: 0, failed: 0 });
    await withClient(project.url, async (client) => {
      for (const job of (await client.list({ queue: 'reports' })).jobs) await client.delete(job.id);
    });
  });

  it('stats: counts per queue and state, totals, and the last minute and hour', async () => {
    const text = await run(['stats']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^QUEUE +SCHEDULED +WAITING FOR CHILDREN +QUEUED +RUNNING +COMPLETED +FAILED +CANCELLED +DONE 1M +FAILED 1M +DONE 1H +FAILED 1H +LAST PROCESSED$/);
    expect(lines.at(-1)).toMatch(/^all queues +\d+/);
    const [stats] = jsonLines((await run(['stats', '--json'])).stdout);
    expect(stats).toMatchObject({ at: expect.stringMatching(/Z$/), counts: { failed: 1 }, failedLastMinute: expect.any(Number), lastProcessedAt: expect.stringMatching(/Z$/) });
    expect((stats!.queues as Array<{ queue: string }>).map((queue) => queue.queue)).toContain('mail');
  });

  it('stats --watch redraws every second until Ctrl-C, then exits 0', { timeout: 60_000 }, async () => {
    const watch = await startCli(['stats', '--watch', '--json'], { cwd: project.dir });
    try {
      await watch.until('a second round', () => watch.lines.length >= 2);
      watch.signal('SIGINT');
      expect(await watch.exited).toBe(0);
      expect(watch.stderr()).toBe('');
      for (const line of watch.lines) expect(JSON.parse(line)).toMatchObject({ counts: expect.any(Object) });
    } finally {
      watch.signal('SIGKILL');
    }
  });
});

describe('schedules', () => {
  beforeAll(async () => {
    const scheduler = createScheduler({ backend: project.url, jobs: fixtureJobs });
    try {
      await scheduler.schedule({ id: 'nightly', cron: '30 2 * * *', tz: 'Europe/Berlin', job: hello, payload: { name: 'night' } });
      await scheduler.schedule({ id: 'often', every: '15m', job: echo, payload: null });
    } finally {
      await scheduler.close();
    }
  });

  it('lists them with the next run in their own zone and in local time', async () => {
    const text = await run(['schedules'], { TZ: 'America/New_York' });
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +JOB +WHEN +STATUS +NEXT RUN +LOCAL \(America\/New_York\) +LAST RUN$/);
    expect(lines.find((line) => line.startsWith('nightly'))).toMatch(/^nightly +hello +30 2 \* \* \* \(Europe\/Berlin\) +enabled +\d{4}-\d\d-\d\d 02:30:00 GMT\+[12] +\d{4}-\d\d-\d\d (20|21):30:00 [A-Z]{3} +—$/);
    expect(lines.find((line) => line.startsWith('often'))).toMatch(/^often +echo +every 15 min +enabled /);
    const json = jsonLines((await run(['schedules', '--json'])).stdout);
    expect(json.map((schedule) => schedule.id)).toEqual(['nightly', 'often']);
  });

  it('next -n shows the coming runs in both zones', async () => {
    const runs = jsonLines((await run(['schedules', 'next', 'nightly', '-n', '3', '--json'], { TZ: 'America/New_York' })).stdout);
    expect(runs).toHaveLength(3);
    for (const entry of runs) {
      expect(entry).toMatchObject({ schedule: 'nightly', zone: 'Europe/Berlin', inZone: expect.stringMatching(/ 02:30:00 GMT\+[12]$/), local: expect.stringMatching(/ (20|21):30:00 E[SD]T$/) });
    }
    const text = await run(['schedules', 'next', 'nightly', '-n', '2'], { TZ: 'Asia/Tokyo' });
    expect(text.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(text.stdout).toMatch(/^IN Europe\/Berlin +LOCAL \(Asia\/Tokyo\) +UTC\n/);
    expect(text.stdout).toMatch(/ 02:30:00 GMT\+[12] +\d{4}-\d\d-\d\d (09|10):30:00 GMT\+9 +\d{4}-\d\d-\d\dT0[01]:30:00\.000Z\n/);
  });

  it('disable, enable and run one now; an unknown schedule is a usage error', async () => {
    expect(await run(['schedules', 'disable', 'nightly'])).toMatchObject({ code: 0, stdout: 'Schedule "nightly" disabled.\n' });
    expect((await run(['schedules'])).stdout).toMatch(/\nnightly .* disabled +— +— +—\n/);
    expect((await run(['schedules', 'enable', 'nightly'])).stdout).toMatch(/^Schedule "nightly" enabled; next run \S+ 02:30:00 GMT\+[12]\.\n$/);
    const ran = await run(['schedules', 'run', 'nightly']);
    expect(ran.code).toBe(0);
    const [job] = jsonLines((await run(['status', ran.stdout.trim(), '--json'])).stdout);
    expect(job).toMatchObject({ name: 'hello', payload: { name: 'night' }, metadata: { scheduleId: 'nightly', manual: true } });
    const unknown = await run(['schedules', 'run', 'weekly']);
    expect(unknown).toMatchObject({ code: 2, stderr: 'error: No schedule with id "weekly".\n' });
  });
});

describe('migrate, init', () => {
  it('migrate applies pending migrations and says plainly that the backend does not report which ran', async () => {
    const text = await run(['migrate']);
    expect(text).toMatchObject({ code: 0, stdout: 'sqlite:./jobsmith.db: migrations are up to date. The sqlite backend does not report which migrations ran, only that none is pending now.\n' });
    expect(jsonLines((await run(['migrate', '--json'])).stdout)[0]).toMatchObject({ backend: 'sqlite', upToDate: true, ran: null });
    expect((await run(['migrate', '--url', 'postgres://u@127.0.0.1:1/db?migrate=false'])).code).toBe(2);
  });

  it('init writes a starter config that runs as written, and will not overwrite one', async () => {
    const fresh = await makeProject();
    try {
      const init = await cli(['init'], { cwd: fresh.dir });
      expect(init.code).toBe(0);
      expect(init.stdout).toMatch(/^Wrote jobsmith\.config\.ts\. Next: /);
      expect(readFileSync(join(fresh.dir, 'jobsmith.config.ts'), 'utf8')).toContain("import { defineConfig, defineJob } from 'jobsmith';");
      const hi = await cli(['run', 'hello', '--param', 'name=Ada', '--json'], { cwd: fresh.dir });
      expect(jsonLines(hi.stdout)[0]).toMatchObject({ data: { greeting: 'Hello, Ada!' } });
      expect(existsSync(join(fresh.dir, 'jobsmith.db'))).toBe(true);
      const again = await cli(['init', '--js'], { cwd: fresh.dir });
      expect(again).toMatchObject({ code: 1, stderr: 'error: jobsmith.config.ts already exists; nothing was written.\n' });
    } finally {
      fresh.remove();
    }
    const js = await makeProject();
    try {
      expect((await cli(['init', '--js'], { cwd: js.dir })).stdout).toMatch(/^Wrote jobsmith\.config\.mjs\./);
      expect(jsonLines((await cli(['run', 'hello', '-p', 'name=Js', '--json'], { cwd: js.dir })).stdout)[0]).toMatchObject({ data: { greeting: 'Hello, Js!' } });
    } finally {
      js.remove();
    }
  });
});
