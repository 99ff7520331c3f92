/**
 * Flows as the CLI shows them, on a real SQLite file, run as a user runs the bin: a parent
 * waiting for its children (status, list, why, their --json), a child that others wait for,
 * and `jobsmith flow` with a flow's progress. A waiting parent's runAt is a never-due mark
 * (year 275760) that must never be printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { step } from '../../src/index.ts';
import { cli, cliInTerminal, jsonLines, makeProject, type Project } from './support/cli.ts';
import { echo, fixtureConfig, hello, withClient } from './support/fixture.ts';

let project: Project;
let flowId: string;
const ids = {} as Record<'fetch' | 'greet' | 'merge' | 'plain', string>;
const run = (args: string[]) => cli(args, { cwd: project.dir });
const neverDue = /275760/;

beforeAll(async () => {
  project = await makeProject({ 'jobsmith.config.ts': fixtureConfig });
  await withClient(project.url, async (client) => {
    const created = await client.flow({
      fetch: step(echo, { n: 1 }),
      greet: step(hello, { name: 'Ada' }),
      merge: step(echo, { n: 3 }, { children: ['fetch', { child: 'greet', onChildFailure: 'ignore' }] }),
    });
    flowId = created.flowId;
    Object.assign(ids, created.ids);
    // One child ends without completing; its policy (ignore) leaves one child to wait for.
    await client.cancel(ids.greet);
    ids.plain = (await client.enqueue(echo, { n: 9 })).id;
  });
}, 300_000);

afterAll(() => project?.remove());

describe('status', () => {
  it("of a waiting parent: its flow and the flow's progress, what it waits for instead of a run time, its children with state and policy", async () => {
    const { code, stdout, stderr } = await run(['status', ids.merge]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toMatch(neverDue);
    expect(stdout.split('\n')[0]).toBe(`${ids.merge}  echo  scheduled`);
    expect(stdout).toMatch(new RegExp(`\\n {2}flow +${flowId} \\(1 of 3 jobs finished\\)\\n`));
    expect(stdout).toMatch(/\n {2}runs +when its children have finished: waiting for 1 of 2 children\n/);
    expect(stdout).not.toMatch(/runs at/);
    expect(stdout).not.toMatch(/parents/);
    const children = stdout.slice(stdout.indexOf('Children')).split('\n\n')[0]!.split('\n');
    expect(children).toEqual([
      'Children (waiting for 1 of 2 children)',
      `  ${ids.fetch}  echo   queued     on failure: fail`,
      `  ${ids.greet}  hello  cancelled  on failure: ignore`,
    ]);
  });

  it('of a child: that jobs of its flow wait for it, and no children', async () => {
    const { code, stdout } = await run(['status', ids.fetch]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`\\n {2}flow +${flowId} \\(1 of 3 jobs finished\\)\\n`));
    expect(stdout).toMatch(/\n {2}parents +other jobs of its flow wait for this one\n/);
    expect(stdout).toMatch(/\n {2}runs at +\S+Z\n/);
    expect(stdout).not.toContain('Children');
  });

  it('of a job outside any flow: nothing about flows', async () => {
    const { stdout } = await run(['status', ids.plain]);
    expect(stdout).not.toMatch(/flow|parents|Children/);
  });

  it('--json: the flow position, the children with their policies, and no run time for a waiting parent', async () => {
    const { code, stdout } = await run(['status', ids.merge, '--json']);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(neverDue);
    const [job] = jsonLines(stdout);
    expect(job).toMatchObject({ id: ids.merge, state: 'scheduled', runAt: null, flow: { flowId, children: 2, pendingChildren: 1, hasParents: false } });
    expect(job!.children).toEqual([
      expect.objectContaining({ id: ids.fetch, name: 'echo', state: 'queued', onChildFailure: 'fail', result: null, finishedAt: null }),
      expect.objectContaining({ id: ids.greet, name: 'hello', state: 'cancelled', onChildFailure: 'ignore', finishedAt: expect.stringMatching(/Z$/) }),
    ]);
    const [plain] = jsonLines((await run(['status', ids.plain, '--json'])).stdout);
    expect(plain).not.toHaveProperty('flow');
    expect(plain).not.toHaveProperty('children');
    expect(plain!.runAt).toEqual(expect.stringMatching(/Z$/));
  });
});

describe('list', () => {
  it('shows a waiting parent as scheduled, waiting for its children, never with its never-due run time', async () => {
    const { code, stdout } = await run(['list']);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(neverDue);
    const lines = stdout.trimEnd().split('\n');
    const stateColumn = lines[0]!.indexOf('STATE');
    const row = (id: string) => lines.find((line) => line.startsWith(id.slice(0, 18)))!;
    expect(row(ids.merge).slice(stateColumn)).toMatch(/^scheduled \(waiting for 1 of 2 children\) +\d{4}-/);
    expect(row(ids.fetch).slice(stateColumn)).toMatch(/^queued +\d{4}-/);
    const json = jsonLines((await run(['list', '--json'])).stdout);
    expect(json.find((job) => job.id === ids.merge)).toMatchObject({ runAt: null, flow: { flowId, pendingChildren: 1 } });
  });

  it('on a terminal too', async () => {
    const { stdout } = await cliInTerminal(['list', '--state', 'scheduled'], { cwd: project.dir });
    expect(stdout).not.toMatch(neverDue);
    expect(stdout.replace(/\u001b\[[\d;]*m/g, '')).toMatch(/scheduled \(waiting for 1 of 2 children\)/);
  });
});

describe('why', () => {
  it('says a parent waits for its children, how many of how many', async () => {
    const { code, stdout } = await run(['why', ids.merge]);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(neverDue);
    expect(stdout).toContain('• It is waiting for 1 of 2 children of its flow to finish; it is queued when they have.');
    const [json] = jsonLines((await run(['why', ids.merge, '--json'])).stdout);
    expect((json!.reasons as Array<Record<string, unknown>>)[0]).toMatchObject({ code: 'waiting-for-children', blocking: true, pendingChildren: 1, children: 2, flowId });
  });
});

describe('flow', () => {
  it("prints a flow's jobs finished of total and its counts by state", async () => {
    const { code, stdout } = await run(['flow', flowId]);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n')).toEqual([`${flowId}  1 of 3 jobs finished`, '  scheduled  1', '  queued     1', '  cancelled  1', "  leaves     1 of 2 finished (the jobs that wait for no other: a batch's items)"]);
    const [json] = jsonLines((await run(['flow', flowId, '--json'])).stdout);
    expect(json).toMatchObject({ flowId, total: 3, finished: 1, counts: { scheduled: 1, queued: 1, running: 0, completed: 0, failed: 0, cancelled: 1 }, leaves: { total: 2, finished: 1 } });
  });

  it('refuses an unknown flow, exit code 2', async () => {
    const { code, stdout, stderr } = await run(['flow', '00000000-0000-7000-8000-000000000000']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error: No flow 00000000-0000-7000-8000-000000000000: no job of it is in the store/);
  });
});

describe('stats', () => {
  it('counts a waiting parent apart from the delayed jobs: a column of its own, and waitingForChildren in --json', async () => {
    await withClient(project.url, (client) => client.enqueue(echo, { n: 10 }, { delay: '1h' }));
    const { code, stdout } = await run(['stats']);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^QUEUE +SCHEDULED +WAITING FOR CHILDREN +QUEUED +RUNNING +COMPLETED +FAILED +CANCELLED /);
    // In the default queue: one delayed job, the waiting parent, its queued child and the plain job.
    expect(lines.find((line) => line.startsWith('default '))).toMatch(/^default +1 +1 +2 +0 +0 +0 +0 /);
    expect(lines.at(-1)).toMatch(/^all queues +1 +1 +2 +0 +0 +0 +1 /);
    const [stats] = jsonLines((await run(['stats', '--json'])).stdout);
    expect(stats).toMatchObject({ counts: { scheduled: 2, queued: 2, cancelled: 1 }, waitingForChildren: 1 });
    const queues = stats!.queues as Array<{ queue: string; counts: { scheduled: number }; waitingForChildren: number }>;
    expect(queues.find((queue) => queue.queue === 'default')).toMatchObject({ counts: { scheduled: 2 }, waitingForChildren: 1 });
    expect(queues.find((queue) => queue.queue === 'mail')).toMatchObject({ waitingForChildren: 0 });
  });
});
