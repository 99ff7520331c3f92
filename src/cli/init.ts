import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { CliError } from './cli-errors.ts';
import { findConfigFile } from './config-file.ts';
import type { Session } from './session.ts';

function starterConfig(typescript: boolean): string {
  const payload = typescript ? '{ name }: { name: string }' : '{ name }';
  return `import { defineConfig, defineJob } from 'jobsmith';

// A first job to try: npx jobsmith run hello --param name=Ada
// Add your own with: npx jobsmith make:job SendEmail
const hello = defineJob({
  name: 'hello',
  async run(${payload}) {
    return { greeting: \`Hello, \${name}!\` };
  },
});

export default defineConfig({
  // Where jobs are stored: sqlite:./jobsmith.db, postgres://…, redis://…
  // --url and the JOBSMITH_URL environment variable take precedence.
  url: 'sqlite:./jobsmith.db',
  jobs: [hello],
  // Registered by \`npx jobsmith worker\` at start, fired once per tick:
  schedules: [
    // { id: 'nightly-hello', cron: '0 2 * * *', tz: 'Europe/Berlin', job: hello, payload: { name: 'night' } },
  ],
  worker: { concurrency: 10, shutdownTimeout: '30s' },
});
`;
}

export function registerInit(program: Command, session: Session): void {
  program
    .command('init')
    .description('Write a starter jobsmith.config.ts here (refuses to overwrite a config).')
    .option('--js', 'write jobsmith.config.mjs instead (plain JavaScript)')
    .addHelpText('after', '\nExample:\n  $ npx jobsmith init && npx jobsmith run hello --param name=Ada')
    .action(async (options) => {
      const cwd = session.workingDirectory;
      const existing = findConfigFile(cwd);
      if (existing !== null) throw new CliError('REFUSED', `${basename(existing)} already exists; nothing was written.`);
      const path = resolve(cwd, options.js ? 'jobsmith.config.mjs' : 'jobsmith.config.ts');
      writeFileSync(path, starterConfig(!options.js), { flag: 'wx' });
      if (session.json) return session.terminal.json({ written: path });
      await session.terminal.line(`Wrote ${basename(path)}. Next: npx jobsmith run hello --param name=Ada, npx jobsmith make:job SendEmail, npx jobsmith worker`);
    });
}
