/**
 * Runs the built `jobsmith` bin as a user would: the package's build (scripts/build.mjs) once into a
 * temp folder (shared by every CLI test file of a run, and kept while the sources are
 * unchanged), then child processes in throwaway projects whose node_modules/jobsmith
 * points at that build.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../support/run-command.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const buildsDir = join(repoRoot, '.tmp', 'cli-build');
/** Projects live under the repository, so packages the configs import (zod, vitest) resolve from its node_modules. */
const projectsDir = join(repoRoot, '.tmp', 'cli-projects');

export interface BuiltCli {
  /** A package root: package.json and dist/, as npm would install it. */
  root: string;
  bin: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : [path];
  });
}

function sourceHash(): string {
  const hash = createHash('sha256');
  const files = [...sourceFiles(join(repoRoot, 'src')), ...['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'].map((name) => join(repoRoot, name))].sort();
  for (const file of files) hash.update(relative(repoRoot, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

let built: Promise<BuiltCli> | null = null;

/**
 * The build for the current sources. Test files run in parallel processes: the first takes
 * a lock (an exclusive mkdir) and builds; the others wait for its `ready` file.
 */
export function buildCli(): Promise<BuiltCli> {
  built ??= (async () => {
    const root = join(buildsDir, sourceHash());
    const result = { root, bin: join(root, 'dist', 'cli', 'main.js') };
    const ready = join(root, 'ready');
    const lock = `${root}.lock`;
    mkdirSync(buildsDir, { recursive: true });
    const deadline = Date.now() + 300_000;
    while (!existsSync(ready)) {
      try {
        mkdirSync(lock);
      } catch {
        // Another process builds; a lock older than the deadline was left by a killed run.
        if (Date.now() > deadline) throw new Error(`waited 5 minutes for ${lock}`);
        if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      try {
        if (existsSync(ready)) break;
        rmSync(root, { recursive: true, force: true });
        mkdirSync(root, { recursive: true });
        // The package's own build, so the SQL and Lua files ship beside the code as they do in dist/.
        const out = await runCommand(process.execPath, [join(repoRoot, 'scripts', 'build.mjs'), join(root, 'dist')], { cwd: repoRoot, env: process.env, timeoutMs: 280_000 });
        if (out.code !== 0) throw new Error(`scripts/build.mjs failed:\n${out.output}`);
        copyFileSync(join(repoRoot, 'package.json'), join(root, 'package.json'));
        writeFileSync(ready, new Date().toISOString());
        removeOldBuilds(root);
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
    }
    return result;
  })();
  return built;
}

function removeOldBuilds(keep: string): void {
  for (const name of readdirSync(buildsDir)) {
    const path = join(buildsDir, name);
    if (path === keep || name.endsWith('.lock')) continue;
    const stamp = statSync(join(path, 'ready'), { throwIfNoEntry: false });
    if (stamp && Date.now() - stamp.mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
  }
}

export interface Project {
  dir: string;
  /** The SQLite store of this project, as a URL. */
  url: string;
  remove(): void;
}

/** A throwaway project with `jobsmith` installed (a link to the build) and, if given, a config file. */
export async function makeProject(files: Record<string, string> = {}): Promise<Project> {
  const cli = await buildCli();
  mkdirSync(projectsDir, { recursive: true });
  const dir = mkdtempSync(join(projectsDir, 'p-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(cli.root, join(dir, 'node_modules', 'jobsmith'), 'dir');
  // An ESM project, as one using an ESM-only package is.
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'cli-test-project', private: true, type: 'module' }, null, 2)}\n`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, url: `sqlite:${join(dir, 'jobsmith.db')}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
}

/** The environment of a user's shell: no colour settings or store URL leaking in from the test runner. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['FORCE_COLOR', 'NO_COLOR', 'JOBSMITH_URL', 'LOG_LEVEL', 'NODE_OPTIONS', 'VITEST', 'VITEST_WORKER_ID', 'VITEST_POOL_ID', 'TEST']) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Feeds `input` to the child's stdin and collects its output until it exits (killed after the timeout). */
function completion(child: ChildProcessWithoutNullStreams, options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs `jobsmith <args>` to its end. */
export async function cli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const { bin } = await buildCli();
  return completion(spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env: cliEnv(options.env) }), options);
}

/** Runs `jobsmith <args>` in a pseudo-terminal (util-linux `script`), as at a terminal. Its output comes on stdout. */
export async function cliInTerminal(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const { bin } = await buildCli();
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, bin, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: options.cwd, env: cliEnv({ TERM: 'xterm-256color', ...options.env }) });
  const result = await completion(child, options);
  return { ...result, stdout: result.stdout.replaceAll('\r\n', '\n') };
}

/** A long-running `jobsmith <args>` (a worker, `stats --watch`), in its own process group. */
export interface RunningCli {
  child: ChildProcess;
  /** Lines of stdout so far. */
  lines: string[];
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves once a line of stdout passes `match`. */
  until(what: string, match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  signal(signal: NodeJS.Signals): void;
}

export async function startCli(args: readonly string[], options: CliOptions): Promise<RunningCli> {
  const { bin } = await buildCli();
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env: cliEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const until = async (what: string, match: (line: string) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(match);
      if (found !== undefined) return found;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`jobsmith ${args.join(' ')} never printed ${what}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, lines, stderr: () => stderr, exited, until, signal: (signal) => child.kill(signal) };
}

/** Parses NDJSON output. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
