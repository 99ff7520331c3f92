import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The dashboard's own files (its CSS and script, the vendored htmx and uPlot), read once
 * from the `static/` folder beside this module. Only the files found there at start are
 * served, looked up by exact name: a request for `../` anything, an encoded one, or a
 * file added later, is simply not in the list.
 */
export interface StaticFile {
  body: Uint8Array;
  contentType: string;
}

const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '': 'text/plain; charset=utf-8',
};

export const staticFolder = fileURLToPath(new URL('./static/', import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
}

export function loadStaticFiles(folder = staticFolder): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const path of walk(folder)) {
    const name = relative(folder, path).split(sep).join('/');
    const extension = /\.[a-z]+$/i.exec(name)?.[0] ?? '';
    const contentType = contentTypes[extension];
    if (contentType === undefined) continue;
    files.set(name, { body: readFileSync(path), contentType });
  }
  return files;
}
