import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { CliError, usageError } from './cli-errors.ts';
import type { Session } from './session.ts';

/** The ways one job is named: `SendInvoice` gives `send-invoice` (job and file), `sendInvoice` (the export). */
export interface JobNames {
  pascal: string;
  camel: string;
  kebab: string;
}

export function jobNames(input: string): JobNames {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(input)) throw usageError(`"${input}" is not a job name: use letters and digits, such as SendInvoice or send-invoice.`);
  const words = input
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter((word) => word !== '')
    .map((word) => word.toLowerCase());
  const capital = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
  const pascal = words.map(capital).join('');
  return { pascal, camel: pascal.charAt(0).toLowerCase() + pascal.slice(1), kebab: words.join('-') };
}

function jobFile(names: JobNames): string {
  const { pascal, camel, kebab } = names;
  return `import { defineJob } from 'jobsmith';

/** What a ${kebab} job is given. Change it to what the job needs. */
export interface ${pascal}Payload {
  id: string;
}

/** What a ${kebab} job returns; it is stored as the job's result. */
export interface ${pascal}Result {
  done: boolean;
}

export const ${camel} = defineJob({
  name: '${kebab}',
  // Options, each with a default: queue, priority, maxAttempts, backoff, timeout, keepCompleted, keepFailed.
  async run(payload: ${pascal}Payload, ctx): Promise<${pascal}Result> {
    await ctx.log('${kebab} started', { id: payload.id });
    // Do the work here. Throwing retries it with backoff; throw PermanentError to fail at once.
    // ctx.signal aborts on cancel, timeout and shutdown; pass it on to fetch() and the like.
    return { done: true };
  },
});
`;
}

function testFile(names: JobNames, importPath: string): string {
  const { camel, kebab } = names;
  return `import { createClient } from 'jobsmith';
import { MemoryBackend } from 'jobsmith/testing';
import { describe, expect, it } from 'vitest';
import { ${camel} } from '${importPath}';

describe('${kebab}', () => {
  it('completes with its result', async () => {
    const client = createClient({ backend: new MemoryBackend(), jobs: [${camel}] });
    try {
      const run = await client.job(${camel}).now({ id: 'example' });
      expect(run.metadata.status).toBe('completed');
      expect(run.data).toEqual({ done: true });
    } finally {
      await client.close();
    }
  });
});
`;
}

/** Import specifiers end as the config's own relative imports do: `.js` if it uses that, else `.ts`. */
function importExtension(config: string): '.js' | '.ts' {
  return /from\s+['"]\.\.?\/[^'"]+\.js['"]/.test(config) ? '.js' : '.ts';
}

/**
 * The config with the job imported and added to its `jobs: [...]`, or null when that array
 * cannot be found. The edit is textual: the import goes after the last import, the name at
 * the end of the array, keeping its one-line or one-per-line layout.
 */
export function registerInConfig(config: string, identifier: string, specifier: string): string | null {
  const start = /\bjobs\s*:\s*\[/.exec(config);
  if (!start) return null;
  const open = start.index + start[0].length;
  let depth = 1;
  let close = open;
  for (; close < config.length && depth > 0; close++) {
    const char = config[close];
    if (char === '[') depth++;
    else if (char === ']') depth--;
  }
  if (depth !== 0) return null;
  close--;
  const inner = config.slice(open, close);
  let entries: string;
  if (inner.trim() === '') entries = identifier;
  else if (inner.includes('\n')) {
    const body = inner.replace(/\s*$/, '');
    const closing = inner.slice(body.length);
    const indent = /\n([ \t]*)\S[^\n]*$/.exec(body)?.[1] ?? '  ';
    entries = `${body}${body.trimEnd().endsWith(',') ? '' : ','}\n${indent}${identifier},${closing}`;
  } else {
    const body = inner.trim().replace(/,$/, '');
    entries = `${body}, ${identifier}`;
  }
  const withJob = config.slice(0, open) + entries + config.slice(close);
  const line = `import { ${identifier} } from '${specifier}';\n`;
  const imports = [...withJob.matchAll(/^import\s[^;]*?from\s*['"][^'"\n]+['"];?[ \t]*\n/gm)];
  const last = imports.at(-1);
  const at = last ? last.index + last[0].length : 0;
  return withJob.slice(0, at) + line + withJob.slice(at);
}

export function registerMakeJob(program: Command, session: Session): void {
  program
    .command('make:job')
    .description('Write a typed job file and a test for it (with jobsmith/testing), and register the job in the config.')
    .argument('<Name>', 'the job, as SendInvoice or send-invoice')
    .option('--dir <dir>', 'where to write (default: src/jobs if there is a src folder, else jobs)')
    .addHelpText('after', '\nRefuses to overwrite a file.\n\nExample:\n  $ jobsmith make:job SendInvoice && npx vitest run jobs/send-invoice.test.ts')
    .action(async (name, options) => {
      const names = jobNames(name);
      const configPath = session.configPath();
      if (configPath === null) throw new CliError('CONFIG', 'No config file here (jobsmith.config.ts) to register the job in; run jobsmith init first.');
      const root = dirname(configPath);
      const dir = resolve(session.workingDirectory, options.dir ?? (existsSync(resolve(root, 'src')) ? 'src/jobs' : 'jobs'));
      const jobPath = resolve(dir, `${names.kebab}.ts`);
      const testPath = resolve(dir, `${names.kebab}.test.ts`);
      const taken = [jobPath, testPath].filter((path) => existsSync(path));
      if (taken.length > 0) throw new CliError('REFUSED', `${taken.map((path) => relative(session.workingDirectory, path)).join(' and ')} already exist${taken.length === 1 ? 's' : ''}; nothing was written.`);
      const config = readFileSync(configPath, 'utf8');
      if (new RegExp(`\\b${names.camel}\\b`).test(config)) throw new CliError('REFUSED', `${basename(configPath)} already mentions ${names.camel}; nothing was written.`);
      const extension = importExtension(config);
      let specifier = relative(root, jobPath).split(sep).join('/').replace(/\.ts$/, extension);
      if (!specifier.startsWith('.')) specifier = `./${specifier}`;
      const updated = registerInConfig(config, names.camel, specifier);
      if (updated === null) throw new CliError('CONFIG', `${basename(configPath)} has no jobs: [...] to add the job to; add one to its defineConfig({ ... }). Nothing was written.`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(jobPath, jobFile(names), { flag: 'wx' });
      writeFileSync(testPath, testFile(names, `./${names.kebab}${extension}`), { flag: 'wx' });
      writeFileSync(configPath, updated);
      const written = { job: jobPath, test: testPath, config: configPath, name: names.kebab };
      if (session.json) return session.terminal.json(written);
      const show = (path: string) => relative(session.workingDirectory, path);
      await session.terminal.line(`Wrote ${show(jobPath)} and ${show(testPath)}; registered ${names.camel} in ${show(configPath)}.`);
      // npx refuses to run a tool the project does not have, so say how to get it first.
      const testCommand = `${hasVitest(root) ? '' : 'npm install -D vitest && '}npx vitest run ${show(testPath)}`;
      session.terminal.note(`Try it: npx jobsmith run ${names.kebab} --param id=1   Test it: ${testCommand}`);
    });
}

/** Whether the project at `root` can load vitest (its own install, or one up the tree as Node resolves it). */
function hasVitest(root: string): boolean {
  try {
    createRequire(resolve(root, 'package.json')).resolve('vitest/package.json');
    return true;
  } catch {
    return false;
  }
}
