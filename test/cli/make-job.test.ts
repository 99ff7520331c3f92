/**
 * `jobsmith make:job` in a fresh project: the job file and its test are written, the job is
 * registered in the config, the generated test passes as generated (vitest, in the project),
 * everything type-checks under strict settings, and nothing is ever overwritten.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerInConfig } from '../../src/cli/make-job.ts';
import { runCommand } from '../support/run-command.ts';
import { buildCli, cli, cliEnv, jsonLines, makeProject, type Project, repoRoot } from './support/cli.ts';

let project: Project;
const run = (args: string[]) => cli(args, { cwd: project.dir });

beforeAll(async () => {
  project = await makeProject();
  expect((await run(['init'])).code).toBe(0);
}, 300_000);

afterAll(() => project?.remove());

describe('make:job', () => {
  it('writes a typed job and a test, and registers the job in the config', async () => {
    const made = await run(['make:job', 'SendInvoice']);
    expect(made).toMatchObject({ code: 0, stdout: 'Wrote jobs/send-invoice.ts and jobs/send-invoice.test.ts; registered sendInvoice in jobsmith.config.ts.\n' });
    // This project resolves vitest (from the repository's node_modules), so the hint runs it directly.
    expect(made.stderr).toContain('Test it: npx vitest run jobs/send-invoice.test.ts\n');
    const config = readFileSync(join(project.dir, 'jobsmith.config.ts'), 'utf8');
    expect(config).toContain("import { defineConfig, defineJob } from 'jobsmith';\nimport { sendInvoice } from './jobs/send-invoice.ts';\n");
    expect(config).toContain('jobs: [hello, sendInvoice],');
    expect(readFileSync(join(project.dir, 'jobs', 'send-invoice.ts'), 'utf8')).toContain("name: 'send-invoice',");
    const ran = await run(['run', 'send-invoice', '--param', 'id=inv_1', '--json']);
    expect(jsonLines(ran.stdout)[0]).toMatchObject({ data: { done: true }, metadata: { status: 'completed' } });
  });

  it('the generated test passes as generated, and the project type-checks', { timeout: 240_000 }, async () => {
    // The project's own (empty) vitest config, so vitest does not take the repository's.
    writeFileSync(join(project.dir, 'vitest.config.mjs'), 'export default {};\n');
    const vitest = await runCommand(process.execPath, [join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', project.dir, '--reporter', 'default'], {
      cwd: project.dir,
      env: cliEnv({ NO_COLOR: '1' }),
      timeoutMs: 180_000,
    });
    expect(vitest.output).toMatch(/Tests +1 passed/);
    expect(vitest.code).toBe(0);
    writeFileSync(
      join(project.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', noEmit: true, allowImportingTsExtensions: true, skipLibCheck: true, types: [] },
        include: ['jobsmith.config.ts', 'jobs'],
      }),
    );
    const tsc = await runCommand(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project.dir], { cwd: project.dir, env: cliEnv(), timeoutMs: 180_000 });
    expect(tsc.output).toBe('');
    expect(tsc.code).toBe(0);
  });

  it('refuses to overwrite a file, or to run without a config; a bad name is a usage error', async () => {
    const again = await run(['make:job', 'send-invoice']);
    expect(again).toMatchObject({ code: 1, stderr: 'error: jobs/send-invoice.ts and jobs/send-invoice.test.ts already exist; nothing was written.\n' });
    expect((await run(['make:job', '9lives'])).code).toBe(2);
    const bare = await makeProject();
    try {
      expect(await cli(['make:job', 'Thing'], { cwd: bare.dir })).toMatchObject({ code: 2, stderr: 'error: No config file here (jobsmith.config.ts) to register the job in; run jobsmith init first.\n' });
    } finally {
      bare.remove();
    }
  });
});

describe('make:job in a project without vitest', () => {
  it('says to install vitest before running the test (npx refuses a tool the project does not have)', async () => {
    const built = await buildCli();
    const dir = mkdtempSync(join(tmpdir(), 'jobsmith-no-vitest-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(built.root, join(dir, 'node_modules', 'jobsmith'), 'dir');
      writeFileSync(join(dir, 'package.json'), '{ "name": "no-vitest", "private": true, "type": "module" }\n');
      expect((await cli(['init'], { cwd: dir })).code).toBe(0);
      const made = await cli(['make:job', 'Thing'], { cwd: dir });
      expect(made.code).toBe(0);
      expect(made.stderr).toContain('Test it: npm install -D vitest && npx vitest run jobs/thing.test.ts\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registering a job in a config', () => {
  it('keeps the layout of the jobs array, one line or one per line, and imports after the last import', () => {
    expect(registerInConfig("import a from 'a';\nexport default { jobs: [] };\n", 'x', './x.ts')).toBe("import a from 'a';\nimport { x } from './x.ts';\nexport default { jobs: [x] };\n");
    expect(registerInConfig('export default { jobs: [a, b,] };\n', 'x', './x.ts')).toBe("import { x } from './x.ts';\nexport default { jobs: [a, b, x] };\n");
    expect(registerInConfig('import {\n  a,\n} from "a";\nexport default {\n  jobs: [\n    a,\n    b\n  ],\n};\n', 'x', './x.js')).toBe(
      'import {\n  a,\n} from "a";\nimport { x } from \'./x.js\';\nexport default {\n  jobs: [\n    a,\n    b,\n    x,\n  ],\n};\n',
    );
    expect(registerInConfig('export default { jobs: [[a], b] };', 'x', './x.ts')).toBe("import { x } from './x.ts';\nexport default { jobs: [[a], b, x] };");
    expect(registerInConfig('export default { workers: 2 };', 'x', './x.ts')).toBeNull();
  });
});
