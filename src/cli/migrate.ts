import type { Command } from '@commander-js/extra-typings';
import { usageError } from './cli-errors.ts';
import type { Session } from './session.ts';

export function registerMigrate(program: Command, session: Session): void {
  program
    .command('migrate')
    .description("Apply the store's pending migrations (every command and worker also does this when it opens the store).")
    .addHelpText('after', '\nExample:\n  $ jobsmith migrate --url postgres://app:password@db.internal/app')
    .action(async () => {
      const { url } = await session.store();
      // The PostgreSQL backend skips migrating when told migrate=false; opening it would then only check the connection.
      if (/[?&]migrate=(false|0|no|off)(&|$)/i.test(url)) throw usageError('The connection string turns migrations off (migrate=false); remove that parameter to migrate.');
      const backend = await (await session.client()).backend();
      const where = await session.safeUrl();
      // No backend reports which of its migrations ran: opening applies any pending ones inside one transaction.
      const note = backend.kind === 'memory' ? 'The memory backend keeps nothing, so it has no migrations.' : `The ${backend.kind} backend does not report which migrations ran, only that none is pending now.`;
      if (session.json) return session.terminal.json({ url: where, backend: backend.kind, upToDate: true, ran: null, note });
      await session.terminal.line(`${where}: migrations are up to date. ${note}`);
    });
}
