/**
 * What TypeScript says about a misspelled option. With one overload per kind of job, the
 * compiler tried the second (`name: string`) last and blamed the job argument
 * ("JobDefinition … is not assignable to parameter of type 'string'"); it must name the option.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { type Client, defineJob } from '../../src/index.ts';

const here = dirname(fileURLToPath(import.meta.url));

const sendEmail = defineJob({ name: 'send-email', run: (input: { to: string }) => input.to });

// Checked by `tsc` (npm test), never run: each line must be a type error, or tsc fails.
export function misspellingsAreTypeErrors(client: Client): void {
  // @ts-expect-error `timout` is no enqueue option
  void client.enqueue(sendEmail, { to: 'a@b.c' }, { timout: '1s' });
  // @ts-expect-error `maxAttempt` is no enqueue option
  void client.enqueue('send-email', { to: 'a@b.c' }, { maxAttempt: 3 });
  // @ts-expect-error the payload must match the job's input
  void client.enqueue(sendEmail, { to: 1 });
  // Still fine: a job by definition, or by name with any payload.
  void client.enqueue(sendEmail, { to: 'a@b.c' }, { timeout: '1s', delay: '5m' });
  void client.enqueue('send-email', { anything: true }, { maxAttempts: 3 });
}

/** The compiler's messages for `code`, type-checked next to this file against the real sources. */
function diagnosticsOf(code: string): string[] {
  const fileName = join(here, '__enqueue-typo.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    strict: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === fileName ? code : readFile(name));
  host.fileExists = (name) => name === fileName || fileExists(name);
  host.getSourceFile = (name, version, onError, create) =>
    name === fileName ? ts.createSourceFile(name, code, version) : getSourceFile(name, version, onError, create);
  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(fileName))
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
}

describe('client.enqueue types', () => {
  it('a misspelled option is reported as that option, not as a wrong job argument', { timeout: 60_000 }, () => {
    const messages = diagnosticsOf(`
      import { createClient, defineJob } from '../../src/index.ts';
      const client = createClient();
      const sendEmail = defineJob({ name: 'send-email', run: (input: { to: string }) => input.to });
      void client.enqueue(sendEmail, { to: 'a@b.c' }, { timout: '1s' });
    `);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain("'timout' does not exist");
    expect(messages[0]).toContain("Did you mean to write 'timeout'?");
    expect(messages[0]).not.toContain("parameter of type 'string'");
  });
});
