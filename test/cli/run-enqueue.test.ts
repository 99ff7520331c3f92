/**
 * `jobsmith run` and `jobsmith enqueue`: the payload flags (the --param rules the README
 * documents, --payload as JSON or @file), the job's schema, and the enqueue options.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, jsonLines, makeProject, type Project } from './support/cli.ts';
import { fixtureConfig } from './support/fixture.ts';

let project: Project;
const run = (args: string[]) => cli(args, { cwd: project.dir });

beforeAll(async () => {
  project = await makeProject({ 'jobsmith.config.ts': fixtureConfig });
}, 300_000);

afterAll(() => project?.remove());

describe('run', () => {
  it("runs the job here, prints its result and the run's record", async () => {
    const text = await run(['run', 'hello', '--param', 'name=Ada']);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(/^completed {2}hello {2}[0-9a-f-]{36} in \d.* \(attempt 1\)\n\{\n {2}"greeting": "Hello, Ada!"\n\}\n$/);
    const json = await run(['run', 'hello', '-p', 'name=Bo', '--json']);
    const [outcome] = jsonLines(json.stdout);
    expect(outcome).toMatchObject({
      data: { greeting: 'Hello, Bo!' },
      metadata: { name: 'hello', status: 'completed', attempts: 1, error: null, startedAt: expect.stringMatching(/Z$/) },
    });
  });

  it('builds the payload from --param by the documented rules', async () => {
    const params = ['n=5', 'neg=-2.5', 'ok=true', 'no=false', 'nothing=null', 's:=5', 'quoted="7"', 'user.id=7', 'user.name=Ada Lovelace', 'zip=007', 'big=12345678901234567890', 'url=https://x.test/?a=b', 'empty='];
    const { code, stdout } = await run(['run', 'echo', '--json', ...params.flatMap((param) => ['--param', param])]);
    expect(code).toBe(0);
    expect(jsonLines(stdout)[0]!.data).toEqual({
      n: 5,
      neg: -2.5,
      ok: true,
      no: false,
      nothing: null,
      s: '5',
      quoted: '7',
      user: { id: 7, name: 'Ada Lovelace' },
      zip: '007',
      big: '12345678901234567890',
      url: 'https://x.test/?a=b',
      empty: '',
    });
    expect(jsonLines((await run(['run', 'echo', '--json'])).stdout)[0]!.data).toEqual({});
  });

  it('refuses a bad --param in one line, exit 2, running nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['-p', 'novalue'], /^error: Bad --param "novalue": expected key=value/],
      [['-p', 'a=1', '-p', 'a.b=2'], /^error: Bad --param "a\.b=2": "a" is already a value/],
      [['-p', 'a=1', '-p', 'a=2'], /^error: Bad --param "a=2": "a" is given twice/],
      [['-p', 'user..id=1'], /^error: Bad --param "user\.\.id=1": "user\.\.id" is not a key/],
      [['-p', '__proto__.x=1'], /is not a key/],
      [['-p', 'a=1', '--payload', '{}'], /^error: Give --payload or --param, not both\./],
    ];
    const results = await Promise.all(cases.map(([args]) => run(['run', 'echo', ...args])));
    for (const [index, result] of results.entries()) {
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(cases[index]![1]);
    }
  });

  it('takes --payload as JSON or @file', async () => {
    writeFileSync(join(project.dir, 'payload.json'), JSON.stringify({ name: 'File', user: { id: 3 } }));
    const [inline, file, notJson, missing] = await Promise.all([
      run(['run', 'hello', '--payload', '{"name":"Inline"}', '--json']),
      run(['run', 'echo', '--payload', '@payload.json', '--json']),
      run(['run', 'echo', '--payload', '{name: 1}']),
      run(['run', 'echo', '--payload', '@missing.json']),
    ]);
    expect(jsonLines(inline.stdout)[0]!.data).toEqual({ greeting: 'Hello, Inline!' });
    expect(jsonLines(file.stdout)[0]!.data).toEqual({ name: 'File', user: { id: 3 } });
    expect(notJson).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: Bad --payload: --payload is not JSON/) });
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: Bad --payload: cannot read missing\.json: ENOENT/) });
  });

  it("checks the payload against the job's schema and names the field, exit 2", async () => {
    const result = await run(['run', 'hello', '-p', 'name=Ada', '-p', 'user.id=abc']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: Payload for job "hello" failed its schema: user\.id: /);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('an unknown job is a usage error that lists the known ones', async () => {
    const result = await run(['run', 'nope']);
    expect(result).toMatchObject({ code: 2, stdout: '', stderr: 'error: Unknown job "nope". Registered jobs: hello, echo, broken.\n' });
  });

  it('a job that fails exits 1 and says so', async () => {
    const result = await run(['run', 'broken']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^failed {2}broken {2}[0-9a-f-]{36} in .*\nError: the disk is full\nsecond line of the message\n$/);
    expect(result.stderr).toBe('error: Job broken did not complete: it ended failed.\n');
  });
});

describe('enqueue', () => {
  it('prints the id, and the options reach the stored job', async () => {
    const result = await run(['enqueue', 'hello', '-p', 'name=Ada', '--delay', '5m', '--priority', '7', '--queue', 'other', '--max-attempts', '4', '--key', 'k1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    const id = result.stdout.trim();
    const [job] = jsonLines((await run(['status', id, '--json'])).stdout);
    expect(job).toMatchObject({ id, name: 'hello', state: 'scheduled', queue: 'other', priority: 7, maxAttempts: 4, key: 'k1', payload: { name: 'Ada' } });
    expect(Date.parse(job!.runAt as string) - Date.parse(job!.createdAt as string)).toBe(300_000);

    const again = await run(['enqueue', 'hello', '-p', 'name=Ada', '--key', 'k1', '--json']);
    expect(again.code).toBe(0);
    expect(jsonLines(again.stdout)[0]).toEqual({ id, created: false });
    const againText = await run(['enqueue', 'hello', '-p', 'name=Ada', '--key', 'k1']);
    expect(againText.stdout).toBe(`${id}\n`);
    expect(againText.stderr).toContain('already waiting or running');
  });

  it('takes --run-at as an ISO moment', async () => {
    const id = (await run(['enqueue', 'echo', '--run-at', '2099-01-02T03:04:05Z'])).stdout.trim();
    expect(jsonLines((await run(['status', id, '--json'])).stdout)[0]).toMatchObject({ state: 'scheduled', runAt: '2099-01-02T03:04:05.000Z' });
  });

  it('refuses bad options, exit 2, adding nothing', async () => {
    const before = jsonLines((await run(['list', '--all', '--json'])).stdout).length;
    const cases = [
      ['--run-at', 'tomorrow'],
      ['--priority', 'high'],
      ['--priority', '5000'],
      ['--delay', '5 fortnights'],
      ['--max-attempts', '0'],
      ['--delay', '5m', '--run-at', '2099-01-01T00:00:00Z'],
    ];
    const results = await Promise.all(cases.map((args) => run(['enqueue', 'echo', ...args])));
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^error: /);
    }
    expect(jsonLines((await run(['list', '--all', '--json'])).stdout)).toHaveLength(before);
    expect((await run(['enqueue', 'nope'])).code).toBe(2);
  });
});
