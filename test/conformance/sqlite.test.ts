import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { runBackendConformance } from '../../src/testing/conformance/index.ts';

runBackendConformance({
  name: 'sqlite (a real file, synchronous=full)',
  makeBackend: (clock) => {
    const dir = mkdtempSync(join(tmpdir(), 'jobsmith-conformance-'));
    return {
      backend: new SqliteBackend({ path: join(dir, 'jobs.db'), clock }),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
