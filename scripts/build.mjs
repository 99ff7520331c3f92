// `npm run build`: compiles src/ with tsc, then copies the SQL and Lua files the backends
// read at run time and the dashboard's static files (tsc copies only what it compiles). The output folder (dist/, or the one
// given as the first argument, as the CLI tests do) is emptied first, so nothing from an
// older build ships.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const outDir = process.argv[2] ?? 'dist';
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync(outDir, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], { stdio: 'inherit' });
cpSync('src', outDir, {
  recursive: true,
  // Folders (no extension) are walked; of the files, SQL and Lua are copied, and everything
  // under the dashboard's static/ (its CSS and script, vendored htmx and uPlot with their licences).
  filter: (source) => !/\.[a-z]+$/i.test(source) || /\.(sql|lua)$/.test(source) || /[\\/]dashboard[\\/]static[\\/]/.test(source),
});
