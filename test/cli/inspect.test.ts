/**
 * `jobsmith list`, `status` and `why` on a real SQLite file, run as a user runs them: the
 * built bin in a child process. Also what every command shares: exit codes, one-line errors,
 * colour rules, the store's precedence, hidden passwords and a closed pipe.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, createWorker, defineJob } from '../../src/index.ts';
import { type BuiltCli, buildCli, cli, cliEnv, cliInTerminal, jsonLines, makeProject, type Project } from './support/cli.ts';
import { broken, claimOne, echo, fixtureConfig, hello, withClient } from './support/fixture.ts';

let project: Project;
let built: BuiltCli;
type Seeded = 'completed' | 'failed' | 'retried' | 'steps' | 'first' | 'second' | 'urgent' | 'delayed' | 'running' | 'stale' | 'held';
const ids = {} as Record<Seeded, string>;
const run = (args: string[], env?: Record<string, string | undefined>) => cli(args, { cwd: project.dir, ...(env ? { env } : {}) });
const ansi = /\u001b\[/;

beforeAll(async () => {
  built = await buildCli();
  project = await makeProject({ 'jobsmith.config.ts': fixtureConfig });
  await withClient(project.url, async (client) => {
    ids.completed = (await client.job(hello).now({ name: 'Ada' })).metadata.id;
    ids.failed = (await client.job(broken).now(null)).metadata.id;
    ids.steps = await runCheckout(project.url);
    ids.retried = await runFlaky(project.url);
    ids.first = (await client.enqueue(hello, { name: 'first' })).id;
    ids.second = (await client.enqueue(hello, { name: 'second' })).id;
    ids.urgent = (await client.enqueue(hello, { name: 'urgent' }, { priority: 5 })).id;
    ids.delayed = (await client.enqueue(hello, { name: 'later' }, { delay: '1h' })).id;
    await client.enqueue(echo, { n: 1 }, { queue: 'busy' });
    ids.running = await claimOne(client, 'busy', 'echo', 'test-worker:1', 600_000);
    await client.enqueue(echo, { n: 2 }, { queue: 'stale' });
    ids.stale = await claimOne(client, 'stale', 'echo', 'crashed-worker:9', 1);
    ids.held = (await client.enqueue(echo, { n: 3 }, { queue: 'held' })).id;
    await client.pause('held');
    // A live worker for queue mail and job hello, and none for the other queues.
    const backend = await client.backend();
    const worker = { id: 'mail-worker:1', host: 'mail-host', pid: 1, queues: ['mail'], names: ['hello'], concurrency: 1, running: 0, startedAt: Date.now() };
    await backend.registerWorker!(worker, 3_600_000);
  });
}, 300_000);

afterAll(() => project?.remove());

/** A job that fails twice, 50 ms apart, and then succeeds, run by a worker named `flaky-worker:1`. */
async function runFlaky(url: string): Promise<string> {
  const flaky = defineJob({
    name: 'flaky',
    maxAttempts: 3,
    backoff: { type: 'fixed', delay: 50 },
    run: (_: null, ctx) => {
      if (ctx.attempt < 3) throw new Error(`the network is down (try ${ctx.attempt})`);
      return 'up';
    },
  });
  const client = createClient({ backend: url, jobs: [flaky] });
  const worker = createWorker({ backend: url, jobs: [flaky], workerId: 'flaky-worker:1', pruneInterval: null });
  try {
    const { id } = await client.enqueue(flaky, null);
    await worker.start();
    await client.waitFor(id, { timeout: 30_000 });
    return id;
  } finally {
    await worker.stop();
    await client.close();
  }
}

/** A job of durable steps the config does not know (status needs only the store): two steps, a failed one it handles, and a sleep. */
async function runCheckout(url: string): Promise<string> {
  const checkout = defineJob({
    name: 'checkout',
    maxAttempts: 1,
    async run(_: null, ctx) {
      const order = await ctx.step('validate', () => ({ items: 2 }));
      await ctx.step('reserve', () => order.items);
      await ctx
        .step('charge', () => {
          throw new Error('card declined\nsecond line');
        })
        .catch(() => 'pay later');
      await ctx.sleep('settle-wait', '1h');
    },
  });
  const client = createClient({ backend: url, jobs: [checkout] });
  try {
    return (await client.job(checkout).now(null)).metadata.id;
  } finally {
    await client.close();
  }
}

describe('list', () => {
  it('prints an aligned table, newest first, with ISO times when stdout is not a terminal', async () => {
    const { code, stdout, stderr } = await run(['list']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).not.toMatch(ansi);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +QUEUE +STATE +PROGRESS +CREATED +DURATION +ATTEMPTS$/);
    expect(lines).toHaveLength(1 + 11);
    // Every row's STATE starts under the header's.
    const stateColumn = lines[0]!.indexOf('STATE');
    for (const line of lines.slice(1)) expect(line.slice(stateColumn)).toMatch(/^(scheduled|queued|running|completed|failed|cancelled) /);
    const held = lines.find((line) => line.startsWith(ids.held.slice(0, 18)))!;
    expect(held).toMatch(/echo +held +queued/);
    const done = lines.find((line) => line.startsWith(ids.completed.slice(0, 18)))!;
    expect(done).toMatch(/hello +mail +completed +50% +\d{4}-\d\d-\d\dT[\d:.]+Z +\d+ ms +1\/3$/);
    expect(lines[1]!.startsWith(ids.held.slice(0, 18))).toBe(true);
  });

  it('filters by state, queue and name, and --json writes one job per line with ISO times', async () => {
    const failed = await run(['list', '--state', 'failed', '--json']);
    expect(failed.code).toBe(0);
    const [job, ...rest] = jsonLines(failed.stdout);
    expect(rest).toEqual([]);
    expect(job).toMatchObject({ id: ids.failed, name: 'broken', state: 'failed', createdAt: expect.stringMatching(/Z$/) });
    const mail = jsonLines((await run(['list', '--queue', 'mail', '--state', 'queued,scheduled', '--name', 'hello', '--json'])).stdout);
    expect(mail.map((line) => line.id)).toEqual([ids.delayed, ids.urgent, ids.second, ids.first]);
  });

  it('pages with --limit and --cursor', async () => {
    const page = await run(['list', '--queue', 'mail', '--limit', '2', '--json']);
    expect(page.code).toBe(0);
    const cursor = /--cursor (\S+)/.exec(page.stderr)?.[1];
    expect(cursor).toBeDefined();
    const rest = await run(['list', '--queue', 'mail', '--cursor', cursor!, '--json']);
    const all = [...jsonLines(page.stdout), ...jsonLines(rest.stdout)].map((line) => line.id);
    expect(all).toEqual([ids.delayed, ids.urgent, ids.second, ids.first, ids.completed]);
    expect(rest.stderr).toBe('');
  });

  it('refuses a state that does not exist, exit code 2', async () => {
    const { code, stdout, stderr } = await run(['list', '--state', 'done']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('"done" is not a state');
  });

  it('stops quietly when the reader closes the pipe (jobsmith list | head)', { timeout: 120_000 }, async () => {
    const many = await makeProject();
    try {
      await withClient(many.url, (client) => client.enqueueMany(Array.from({ length: 2500 }, (_, n) => ({ job: echo, payload: { n } }))));
      for (const json of [[], ['--json']]) {
        const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${built.bin}" list --all ${json.join(' ')} | head -n 3`], { cwd: many.dir, env: cliEnv() });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.on('close', (code) => resolve({ code, stdout, stderr }));
        });
        expect(result).toEqual({ code: 0, stdout: expect.any(String), stderr: '' });
        expect(result.stdout.trimEnd().split('\n')).toHaveLength(3);
      }
    } finally {
      many.remove();
    }
  });
});

describe('status', () => {
  it('shows everything about a job found by a prefix: payload, result, progress, logs, timeline', async () => {
    const { code, stdout } = await run(['status', ids.completed.slice(0, 20)]);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe(`${ids.completed}  hello  completed`);
    expect(stdout).toMatch(/queue +mail/);
    expect(stdout).toMatch(/Payload\n {2}\{\n {4}"name": "Ada"\n {2}\}/);
    expect(stdout).toMatch(/Result\n {2}\{\n {4}"greeting": "Hello, Ada!"\n {2}\}/);
    expect(stdout).toMatch(/Progress\n {2}\S+Z +50% {2}writing/);
    expect(stdout).toMatch(/Logs\n {2}\S+Z {2}attempt 1 {2}greeting {2}\{"name":"Ada"\}/);
    expect(stdout).toMatch(/Timeline\n {2}\S+Z {2}enqueued\n {2}\S+Z {2}attempt 1 started\n {2}\S+Z {2}completed/);
  });

  it("shows a failed attempt's error with its stack", async () => {
    const { code, stdout } = await run(['status', ids.failed]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Attempts\n {2}#1 +failed +worker \S+, started \S+Z, ran \d+ ms\n {7}Error: the disk is full\n {7}second line of the message\n {11}at /);
    expect(stdout).toMatch(/attempt 1 failed after \d+ ms: Error: the disk is full\n/);
  });

  it('shows every attempt of a job retried twice: worker, duration, error and stack, backoff; and the timeline of them', async () => {
    const { code, stdout } = await run(['status', ids.retried]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /Attempts\n {2}#1 +failed +worker flaky-worker:1, started \S+Z, ran \d+ ms, retried \S+Z \(backoff 50 ms\)\n {7}Error: the network is down \(try 1\)\n {11}at [^\n]+\n(?: {11}at [^\n]+\n)*/,
    );
    expect(stdout).toMatch(/ {2}#2 +failed +worker flaky-worker:1, [^\n]+\n {7}Error: the network is down \(try 2\)\n/);
    expect(stdout).toMatch(/ {2}#3 +completed +started \S+Z, ran \d+ ms\n/);
    const timeline = stdout.slice(stdout.indexOf('Timeline')).trimEnd().split('\n').slice(1).map((line) => line.replace(/^ {2}\S+Z {2}/, ''));
    expect(timeline).toEqual([
      'enqueued',
      'attempt 1 started on flaky-worker:1',
      expect.stringMatching(/^attempt 1 failed after \d+ ms: Error: the network is down \(try 1\); retry in 50 ms$/),
      'retry due (backoff 50 ms)',
      'attempt 2 started on flaky-worker:1',
      expect.stringMatching(/^attempt 2 failed after \d+ ms: Error: the network is down \(try 2\); retry in 50 ms$/),
      'retry due (backoff 50 ms)',
      'attempt 3 started',
      'completed',
    ]);
    const [job] = jsonLines((await run(['--json', 'status', ids.retried])).stdout);
    expect(job).toMatchObject({ attempts: 3, attemptHistoryDropped: 0 });
    expect(job!.attemptHistory).toEqual([1, 2].map((attempt) => ({
      attempt,
      workerId: 'flaky-worker:1',
      outcome: 'failed',
      startedAt: expect.stringMatching(/Z$/),
      endedAt: expect.stringMatching(/Z$/),
      retryAt: expect.stringMatching(/Z$/),
      error: expect.objectContaining({ message: `the network is down (try ${attempt})`, at: expect.stringMatching(/Z$/), stack: expect.stringContaining('at ') }),
    })));
  });

  it('shows each durable step: outcome, duration or wake time, attempt, start, and why one failed', async () => {
    const { code, stdout } = await run(['status', ids.steps]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /Steps\n {2}validate {5}completed {2}\d+ ms {2}attempt 1, started \S+Z\n {2}reserve {6}completed {2}\d+ ms {2}attempt 1, started \S+Z\n {2}charge {7}failed {5}\d+ ms {2}attempt 1, started \S+Z {2}Error: card declined\n {2}settle-wait {2}sleeping {3}until \S+Z {2}attempt 1, started \S+Z\n/,
    );
    const [job] = jsonLines((await run(['--json', 'status', ids.steps])).stdout);
    expect((job!.steps as Array<{ name: string; outcome: string }>).map((step) => [step.name, step.outcome])).toEqual([
      ['validate', 'completed'],
      ['reserve', 'completed'],
      ['charge', 'failed'],
      ['settle-wait', 'sleeping'],
    ]);
    expect(job).toMatchObject({ state: 'scheduled', attempts: 0 });
  });

  it("shows a running job's lease", async () => {
    const { stdout } = await run(['status', ids.running]);
    expect(stdout).toMatch(/lease +held by test-worker:1, ends \S+Z/);
  });

  it('--json prints the record, times in ISO', async () => {
    const { code, stdout } = await run(['--json', 'status', ids.completed]);
    expect(code).toBe(0);
    const [job] = jsonLines(stdout);
    expect(job).toMatchObject({ id: ids.completed, state: 'completed', result: { greeting: 'Hello, Ada!' }, finishedAt: expect.stringMatching(/Z$/) });
    expect((job!.logs as Array<{ at: string }>)[0]!.at).toMatch(/Z$/);
  });

  it('lists the candidates of an ambiguous prefix and exits 2', async () => {
    const { code, stdout, stderr } = await run(['status', ids.first.slice(0, 4)]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^error: Id prefix "\w{4}" matches (\d+|more than 10) jobs; give more of the id:$/);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines[1]).toMatch(/^ {2}[0-9a-f-]{36} {2}\w+ +\w+ +created /);
  });

  it('says so for an id that matches nothing, exit 2, and for a malformed one', async () => {
    expect(await run(['status', 'ffffffff'])).toMatchObject({ code: 2, stdout: '', stderr: 'error: No job with id "ffffffff".\n' });
    const bad = await run(['status', 'not-an-id!']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: Invalid id: "not-an-id!"\. Expected a job id/);
  });
});

describe('why', () => {
  const reasons = async (id: string) => {
    const { code, stdout } = await run(['why', id, '--json']);
    expect(code).toBe(0);
    return (jsonLines(stdout)[0]!.reasons as Array<{ code: string; message: string }>).map((reason) => reason.code);
  };

  it('names a delay, a paused queue, the jobs ahead by priority and by age, and a queue no live worker serves', async () => {
    const [delayed, held, first, second, urgent] = await Promise.all([ids.delayed, ids.held, ids.first, ids.second, ids.urgent].map(reasons));
    expect({ delayed, held, first, second, urgent }).toEqual({
      delayed: ['delayed'],
      held: ['queue-paused', 'no-live-worker'],
      first: ['behind-higher-priority'],
      second: ['behind-higher-priority', 'behind-earlier'],
      urgent: ['ready'],
    });
    const [secondText, heldText, delayedText] = await Promise.all([ids.second, ids.held, ids.delayed].map((id) => run(['why', id])));
    expect(secondText!.stdout).toContain('It waits behind 1 job of higher priority in queue "mail".');
    expect(secondText!.stdout).toContain('It waits behind 1 earlier job of the same priority (0) in queue "mail".');
    // The job line names the queue the reasons speak of.
    expect(heldText!.stdout).toMatch(new RegExp(`^${ids.held}  \\S+  queue held  (queued|scheduled)  \\(created `));
    expect(heldText!.stdout).toContain('Queue "held" is paused (jobsmith queues resume held).');
    expect(delayedText!.stdout).toMatch(/It is delayed until \S+Z\./);
    expect(heldText!.stdout).toContain('No live worker serves queue "held" (1 live worker serves other queues): it waits until one starts.');
    const [urgentJson] = jsonLines((await run(['why', ids.urgent, '--json'])).stdout);
    expect((urgentJson!.reasons as Array<Record<string, unknown>>)[0]).toMatchObject({ code: 'ready', blocking: false, workers: ['mail-worker:1'] });
    expect((await run(['why', ids.urgent])).stdout).toContain('claims it. 1 live worker does: mail-worker:1.');
  });

  it('on a terminal, each time in a reason is followed by how far away it is', async () => {
    const { stdout } = await cliInTerminal(['why', ids.delayed], { cwd: project.dir });
    expect(stdout).toMatch(/It is delayed until \d{4}-\d\d-\d\dT[\d:.]+Z \(in (59 min|1 h)\)\./);
  });

  it('says a job sleeps in a step until its wake time', async () => {
    expect(await reasons(ids.steps)).toEqual(['delayed', 'no-live-worker']);
    expect((await run(['why', ids.steps])).stdout).toMatch(/It is delayed until \S+Z: it sleeps in step "settle-wait" \(ctx\.sleep\)\./);
  });

  it('says which worker holds a running job and when its lease ends, or that the lease expired', async () => {
    const running = await run(['why', ids.running]);
    expect(running.stdout).toMatch(/It is running: worker test-worker:1 holds it, and its lease ends at \S+Z unless that worker renews it\./);
    expect(await reasons(ids.stale)).toEqual(['expired-lease', 'no-live-worker']);
    expect((await run(['why', ids.stale])).stdout).toMatch(/Its lease expired at \S+Z: worker crashed-worker:9 crashed or hung\. It waits for a worker serving queue "stale" to take it over\./);
    expect(await reasons(ids.completed)).toEqual(['finished']);
  });
});

describe('every command', () => {
  it('is the package\'s bin: package.json points at the built entry, which runs under node by its shebang', async () => {
    const pkg = JSON.parse(readFileSync(join(built.root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(join(built.root, pkg.bin.jobsmith!)).toBe(built.bin);
    expect(readFileSync(built.bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: `${(JSON.parse(readFileSync(join(built.root, 'package.json'), 'utf8')) as { version: string }).version}\n` });
  });

  it('an unknown command or option is a usage error, exit 2, with a suggestion', async () => {
    const unknown = await run(['lst']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown command 'lst'");
    expect(unknown.stderr).toContain('list');
    const option = await run(['list', '--colour']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("error: unknown option '--colour'");
  });

  it('has --help with an example', async () => {
    const commands = ['list', 'status', 'why', 'run', 'enqueue', 'retry', 'failed', 'stats', 'queues', 'worker', 'workers', 'schedules', 'make:job', 'prune', 'init', 'migrate'];
    const helps = await Promise.all(commands.map((command) => run([command, '--help'])));
    for (const help of helps) {
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Examples?:\n {2}\$ (npx )?jobsmith /);
    }
  });

  it('a store that cannot be opened: one line on stderr, exit 1; --verbose adds the stack', async () => {
    const url = 'sqlite:/nonexistent/folder/jobs.db';
    const plain = await run(['--url', url, 'list']);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe('');
    expect(plain.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(plain.stderr).toMatch(/^error: .*\/nonexistent\/folder\/jobs\.db/);
    const verbose = await run(['--url', url, 'list', '--verbose']);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/\n {4}at /);
  });

  it('a config file with a syntax error: one line naming the file, exit 2', async () => {
    const broken = await makeProject({ 'jobsmith.config.ts': "import { defineConfig } from 'jobsmith';\nexport default defineConfig({ jobs: [ });\n" });
    try {
      const result = await cli(['list'], { cwd: broken.dir });
      expect(result.code).toBe(2);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^error: Could not load jobsmith\.config\.ts: .*jobsmith\.config\.ts:2/);
      // --url makes the config unnecessary for commands that run no jobs.
      expect((await cli(['list', '--url', broken.url], { cwd: broken.dir })).code).toBe(0);
    } finally {
      broken.remove();
    }
  });

  it('never prints the password of a connection string, not even with --verbose', async () => {
    const url = 'postgres://app:s3cr3t-pa55@127.0.0.1:1/jobs?connectTimeout=2000';
    for (const extra of [[], ['--verbose']]) {
      const result = await run(['--url', url, 'list', ...extra]);
      expect(result.code).toBe(1);
      expect(result.stderr).not.toContain('s3cr3t');
    }
    const env = await run(['list'], { JOBSMITH_URL: 'redis://:s3cr3t-pa55@127.0.0.1:1/0' });
    expect(env.stderr).not.toContain('s3cr3t');
    const bad = await run(['--url', 'postgres://app:s3cr3t-pa55@host:notaport/db', 'list']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).not.toContain('s3cr3t');
    expect(bad.stderr).toContain('***');
  });

  it('takes the store from --url, then JOBSMITH_URL, then the config file, then sqlite:./jobsmith.db', async () => {
    const configured = await makeProject({ 'jobsmith.config.mjs': "export default { url: 'sqlite:./from-config.db' };\n" });
    try {
      const where = async (args: string[], env?: Record<string, string>) => (await cli(['migrate', ...args], { cwd: configured.dir, ...(env ? { env } : {}) })).stdout.split(':')[1];
      expect(await where([])).toBe('./from-config.db');
      expect(await where([], { JOBSMITH_URL: 'sqlite:./from-env.db' })).toBe('./from-env.db');
      expect(await where(['--url', 'sqlite:./from-flag.db'], { JOBSMITH_URL: 'sqlite:./from-env.db' })).toBe('./from-flag.db');
      expect((await cli(['migrate'], { cwd: project.dir })).stdout.split(':')[1]).toBe('./jobsmith.db');
    } finally {
      configured.remove();
    }
  });

  it('colours only a terminal, and honours NO_COLOR, FORCE_COLOR and --no-color', async () => {
    expect((await run(['list'])).stdout).not.toMatch(ansi);
    expect((await run(['list'], { FORCE_COLOR: '1' })).stdout).toMatch(ansi);
    expect((await run(['list', '--no-color'], { FORCE_COLOR: '1' })).stdout).not.toMatch(ansi);
    const terminal = await cliInTerminal(['list'], { cwd: project.dir });
    expect(terminal.code).toBe(0);
    expect(terminal.stdout).toMatch(ansi);
    // On a terminal, times are relative.
    expect(terminal.stdout).toMatch(/ (\d+ (s|min) ago|just now) /);
    expect((await cliInTerminal(['list'], { cwd: project.dir, env: { NO_COLOR: '1' } })).stdout).not.toMatch(ansi);
  });
});
