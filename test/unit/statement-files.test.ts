import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readNamedStatements } from '../../src/backends/statement-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'jobsmith-statements-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fileWith = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return pathToFileURL(path);
};

describe('readNamedStatements', () => {
  it('splits a file on its -- name: lines, leaving out the header', () => {
    const url = fileWith('ok.sql', '-- Statements of a role.\n\n-- name: first\nSELECT 1;\n\n-- name: second\nSELECT\n  2;\n');
    expect(readNamedStatements(url)).toEqual({ first: 'SELECT 1;', second: 'SELECT\n  2;' });
  });

  it('refuses a name given twice, and a name with nothing under it', () => {
    expect(() => readNamedStatements(fileWith('twice.sql', '-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n'))).toThrow(/names the statement "a" twice/);
    expect(() => readNamedStatements(fileWith('empty.sql', '-- name: a\n\n-- name: b\nSELECT 2;\n'))).toThrow(/no statement under "a"/);
  });
});
