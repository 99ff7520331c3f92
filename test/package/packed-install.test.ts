/**
 * The package as a user gets it. `npm pack` builds it (through `prepare`, as a git install
 * does), and the tarball goes into an empty ESM project holding nothing but it and zod: no
 * vitest, no pg, no ioredis, no @types/node of its own. There the README's quick start ("A
 * first job" and the class style), taken from README.md's code blocks so that this breaks when
 * the README drifts, and its `jobsmith/testing` example compile under strict TypeScript 7, 6
 * and 5.9 with `skipLibCheck: false`, and run. publint and arethetypeswrong check the tarball.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCI } from '../support/index.ts';
import { runChecked, runCommand } from '../support/run-command.ts';
import { type PackedLibrary, devToolPath, installConsumer, packLibrary, readmeCodeBlock, repoRoot } from './packed-library.ts';

const fixtures = join(repoRoot, 'test', 'package', 'consumer');
const runTimeoutMs = 60_000;
// Checking @types/node and zod with skipLibCheck: false takes TypeScript 5.9 and 6 several seconds each, more on a busy machine.
const compileTimeoutMs = 180_000;

/**
 * A dev tool from package.json's devDependencies. Missing only where node_modules predates
 * package.json (the tests that need it are then skipped); under CI, missing is an error.
 */
function devTool(packageName: string, file: string): string | undefined {
  const path = devToolPath(packageName, file);
  if (path === undefined && isCI()) throw new Error(`${packageName} is not installed: it is a devDependency, run npm ci`);
  return path;
}

/** The compilers users install today. */
const compilers = [
  { version: '7', tsc: devTool('typescript-7', 'bin/tsc') },
  { version: '6', tsc: devTool('typescript', 'bin/tsc') },
  { version: '5.9', tsc: devTool('typescript-5.9', 'bin/tsc') },
];
const emitter = compilers.find((compiler) => compiler.tsc !== undefined)?.tsc;
const publint = devTool('publint', 'src/cli.js');
const attw = devTool('@arethetypeswrong/cli', 'dist/index.js');

/** Sources compiled in the project: README blocks, with what each needs around it to run on its own. */
function consumerSources(): Record<string, string> {
  return {
    'first-job.ts': readmeCodeBlock('## A first job'),
    // The class-style block uses the `client` of the block before; here it gets one of its own, and a worker to run the job.
    'class-style.ts': [
      "import { createClient, createWorker, MemoryBackend } from 'jobsmith';",
      'const backend = new MemoryBackend();',
      'const client = createClient({ backend });',
      readmeCodeBlock('### The class style'),
      'const worker = createWorker({ backend, jobs: [ChargeCard] });',
      "const charged = new Promise((resolve) => worker.on('job:completed', ({ result }) => resolve(result)));",
      'await worker.start();',
      'console.log(JSON.stringify(await charged));',
      'await worker.stop();',
      'await client.close();',
    ].join('\n'),
    // The testing block uses the README's `sendEmail`; a stand-in with the same payload keeps it offline.
    'testing.ts': [
      "import { defineJob } from 'jobsmith';",
      'const sendEmail = defineJob({',
      "  name: 'send-email',",
      '  async run({ to }: { to: string; subject: string }) {',
      '    return { messageId: `to ${to}` };',
      '  },',
      '});',
      readmeCodeBlock('## Testing your jobs'),
      'console.log(JSON.stringify({ state: job.state, result: job.result }));',
      'await worker.stop();',
      'await client.close();',
    ].join('\n'),
    'flows.ts': readmeCodeBlock('### Flows: chains, graphs and batches'),
  };
}

// Each test starts Node or a tool on the installed project: more than the default 30 s on a busy machine.
describe('the packed package, installed into an empty project', { timeout: 2 * runTimeoutMs }, () => {
  let work: string;
  let consumer: string;
  let library: PackedLibrary;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'jobsmith-packed-'));
    library = await packLibrary(work);
    consumer = join(work, 'consumer');
    await installConsumer(consumer, library, ['zod']);
    for (const file of ['tsconfig.json', 'mail-api-stub.mjs', 'missing-drivers.mjs', 'missing-addon.mjs']) cpSync(join(fixtures, file), join(consumer, file));
    mkdirSync(join(consumer, 'src'));
    for (const [file, source] of Object.entries(consumerSources())) writeFileSync(join(consumer, 'src', file), source);
  }, 420_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const node = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCommand(process.execPath, args, { cwd: consumer, env: { ...process.env, ...env }, timeoutMs: runTimeoutMs });

  it('ships the build, the license, and no map that points at a file it leaves out', () => {
    expect(library.files).toEqual(expect.arrayContaining(['LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/testing/conformance/index.js']));
    expect(readFileSync(join(consumer, 'node_modules', 'jobsmith', 'LICENSE'), 'utf8')).toContain('Copyright (c) 2026 Jobsmith contributors');
    const shipped = new Set(library.files);
    for (const map of library.files.filter((file) => file.endsWith('.map'))) {
      const { sources } = JSON.parse(readFileSync(join(consumer, 'node_modules', 'jobsmith', map), 'utf8')) as { sources: string[] };
      for (const source of sources) expect(shipped, `${map} points at ${source}`).toContain(join(map, '..', source));
    }
  });

  it('ships every SQL and Lua file the backends read at run time', () => {
    const statementFiles = (readdirSync(join(repoRoot, 'src'), { recursive: true }) as string[])
      .filter((file) => /\.(sql|lua)$/.test(file))
      .map((file) => `dist/${file.split(sep).join('/')}`);
    expect(statementFiles.length).toBeGreaterThan(10);
    expect(library.files).toEqual(expect.arrayContaining(statementFiles));
  });

  it('ships the dashboard with its static files (vendored htmx and uPlot with their licences), and it serves them', async () => {
    const staticFiles = (readdirSync(join(repoRoot, 'src', 'dashboard', 'static'), { recursive: true, withFileTypes: true }) as Array<{ isFile(): boolean; parentPath: string; name: string }>)
      .filter((entry) => entry.isFile())
      .map((entry) => `dist/${join(entry.parentPath, entry.name).slice(join(repoRoot, 'src').length + 1).split(sep).join('/')}`);
    expect(staticFiles).toEqual(expect.arrayContaining(['dist/dashboard/static/vendor/htmx/htmx.min.js', 'dist/dashboard/static/vendor/htmx/LICENSE', 'dist/dashboard/static/vendor/uplot/LICENSE']));
    expect(library.files).toEqual(expect.arrayContaining(staticFiles));
    const script = [
      "import { createClient, MemoryBackend } from 'jobsmith';",
      "import { createDashboard } from 'jobsmith/dashboard';",
      "const dashboard = createDashboard({ client: createClient({ backend: new MemoryBackend() }), auth: { token: 'a-long-enough-token' } });",
      "const response = await dashboard.request('/static/vendor/htmx/htmx.min.js', { headers: { authorization: 'Bearer a-long-enough-token' } });",
      'console.log(JSON.stringify({ status: response.status, type: response.headers.get("content-type"), bytes: (await response.text()).length }));',
    ].join('\n');
    const { output } = await runChecked(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, env: process.env, timeoutMs: runTimeoutMs });
    const served = JSON.parse(output.trim().split('\n').at(-1)!) as { status: number; type: string; bytes: number };
    expect(served).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(served.bytes).toBeGreaterThan(10_000);
  });

  it('installs with no vitest, pg or ioredis, and with @types/node through its peer dependency', async () => {
    for (const absent of ['vitest', 'pg', 'ioredis']) {
      const { code } = await node(['--input-type=module', '-e', `await import(${JSON.stringify(absent)})`]);
      expect(code, `${absent} must not be installed`).not.toBe(0);
    }
    expect(JSON.parse(readFileSync(join(consumer, 'node_modules', '@types', 'node', 'package.json'), 'utf8'))).toHaveProperty('name', '@types/node');
  });

  for (const { version, tsc } of compilers) {
    it.skipIf(tsc === undefined)(`compiles the quick start and the jobsmith/testing example under TypeScript ${version}`, async () => {
      const { output: reported } = await runChecked(process.execPath, [tsc!, '--version'], { cwd: consumer, env: process.env, timeoutMs: runTimeoutMs });
      expect(reported.trim()).toMatch(new RegExp(`^Version ${version.replace('.', '\\.')}\\.`));
      // The newest compiler writes the JavaScript the next tests run; the others only check.
      const emit = tsc === emitter ? [] : ['--noEmit'];
      const result = await runCommand(process.execPath, [tsc!, '-p', 'tsconfig.json', ...emit], { cwd: consumer, env: process.env, timeoutMs: compileTimeoutMs });
      expect(result.output.trim(), 'tsc reported errors').toBe('');
      expect(result.code).toBe(0);
    }, compileTimeoutMs);
  }

  it('runs "A first job" as the README gives it, against a local stand-in for the mail API', async () => {
    const requests: unknown[] = [];
    const mailApi: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        requests.push(JSON.parse(body));
        response.end(`msg-${requests.length}`);
      });
    });
    await new Promise<void>((resolve) => mailApi.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = mailApi.address() as { port: number };
      const run = await node(['--import', './mail-api-stub.mjs', 'out/first-job.js'], { MAIL_API_URL: `http://127.0.0.1:${port}` });
      expect(run.code, run.output).toBe(0);
      // `console.log(run.data, run.metadata.status, run.metadata.durationMs)` after `now()`.
      expect(run.output).toMatch(/\{ messageId: 'msg-\d' \} completed \d+/);
      // Both jobs reached the API: the `now()` one here, the `later()` one through the worker.
      expect(requests).toEqual(
        expect.arrayContaining([
          { to: 'ada@example.com', subject: 'Hi' },
          { to: 'bob@example.com', subject: 'Hi' },
        ]),
      );
    } finally {
      mailApi.close();
    }
  });

  it('runs the class style', async () => {
    const run = await node(['out/class-style.js']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('{"charged":1999}');
  });

  it('runs the flows example: a graph, a chain and a batch, each with the results README shows', async () => {
    const run = await node(['out/flows.js']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("images: [\n    'https://cdn.example/cat.png?w=320',\n    'https://cdn.example/cat.png?w=1280'\n  ]");
    expect(run.output).toContain("{ title: 'https://example.com' }");
    expect(run.output).toContain('{ total: 2, done: 2, completed: 2, failed: 0, cancelled: 0 }');
  });

  it('runs the jobsmith/testing example without vitest: the fake clock moves the delayed job', async () => {
    const run = await node(['out/testing.js']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('{"state":"completed","result":{"messageId":"to a@example.com"}}');
  });

  it('says which driver is missing, with BackendUnavailableError, on every path to PostgreSQL and Redis', async () => {
    const run = await node(['missing-drivers.mjs']);
    expect(run.code, run.output).toBe(0);
    const outcomes = run.output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { way: string; code?: string; message?: string; cause?: string });
    expect(outcomes.map((outcome) => outcome.way)).toEqual(['new PostgresBackend()', 'openBackend(postgres://)', 'new RedisBackend()', 'openBackend(redis://)']);
    for (const outcome of outcomes) {
      const driver = outcome.way.includes('Redis') || outcome.way.includes('redis') ? 'ioredis' : 'pg';
      expect(outcome, outcome.way).toMatchObject({ code: 'BACKEND_UNAVAILABLE', cause: 'MODULE_NOT_FOUND' });
      expect(outcome.message).toContain(`npm install ${driver}`);
    }
  });

  it("says what to run, with BackendUnavailableError, when better-sqlite3's install script never built its addon", async () => {
    const addon = join(consumer, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    renameSync(addon, `${addon}.away`);
    try {
      const run = await node(['missing-addon.mjs']);
      expect(run.code, run.output).toBe(0);
      const outcome = JSON.parse(run.output.trim().split('\n').at(-1)!) as { code?: string; message?: string; cause?: string };
      expect(outcome).toMatchObject({ code: 'BACKEND_UNAVAILABLE', cause: expect.stringContaining('Could not locate the bindings file') });
      expect(outcome.message).toContain('npm approve-scripts better-sqlite3');
      expect(outcome.message).toContain('npm rebuild better-sqlite3');
      expect(existsSync(join(consumer, 'missing-addon.db')), 'no file is left behind').toBe(false);
    } finally {
      renameSync(`${addon}.away`, addon);
    }
  });

  it.skipIf(publint === undefined)('passes publint', async () => {
    const { output } = await runChecked(process.execPath, [publint!, 'run', library.tarball, '--strict'], { cwd: work, env: process.env, timeoutMs: runTimeoutMs });
    expect(output).toContain('All good!');
  });

  it.skipIf(attw === undefined)('passes arethetypeswrong (as an ESM-only package: node10 and require() resolution are not checked)', async () => {
    await runChecked(process.execPath, [attw!, library.tarball, '--profile', 'esm-only', '--no-definitely-typed', '--no-emoji', '--no-color'], { cwd: work, env: process.env, timeoutMs: runTimeoutMs });
  });
});
