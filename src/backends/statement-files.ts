import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Reads the SQL and Lua that backends keep in files of their own (`.sql`, `.lua`, shipped
 * beside the compiled code), so editors highlight them and reviewers read them as what they
 * are. Each file is read once, when its backend first needs it.
 */
export function readStatementFile(url: URL): string {
  return readFileSync(fileURLToPath(url), 'utf8');
}

/**
 * The statements of a `.sql` file that holds several, each under a `-- name: statementName`
 * line, by name. Text before the first name (a header comment) is not a statement. A file
 * that names one statement twice, or a name with no statement, is a mistake in the shipped
 * files and throws at once.
 */
export function readNamedStatements(url: URL): Readonly<Record<string, string>> {
  const statements: Record<string, string> = {};
  const parts = readStatementFile(url).split(/^-- name: *(\S+) *$/m);
  for (let index = 1; index < parts.length; index += 2) {
    const name = parts[index]!;
    const text = parts[index + 1]!.trim();
    if (name in statements) throw new Error(`${fileURLToPath(url)} names the statement "${name}" twice`);
    if (text === '') throw new Error(`${fileURLToPath(url)} has no statement under "${name}"`);
    statements[name] = text;
  }
  return statements;
}

/**
 * The numbered migrations of a backend's `migrations/` folder (`NNNN-name.sql`, the number is
 * the version), in version order. Other files in the folder are not migrations.
 */
export function readMigrationFolder(folder: URL): ReadonlyArray<{ version: number; sql: string }> {
  return readdirSync(fileURLToPath(folder))
    .filter((file) => /^\d{4}-[a-z0-9-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: Number(file.slice(0, 4)), sql: readStatementFile(new URL(file, folder)) }));
}
