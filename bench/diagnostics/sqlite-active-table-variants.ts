/**
 * What the shape of the active jobs table costs an enqueue, on a bare better-sqlite3
 * connection (no Jobsmith code): the same keyless rows inserted into today's
 * `jobsmith_jobs` (40 columns, text state with a CHECK, `'[]'` defaults, rowid table with a
 * unique text-id index and six partial indexes), into a lean one (integer state, NULLs for
 * the defaults), into a lean WITHOUT ROWID one keyed by the text id (no separate id index; an
 * explicit `seq`), and into plainjob's table. `single`: one autocommit INSERT per job;
 * `bulk`: 1,000 a transaction. Reports CPU and wall µs a job and the file's bytes a job.
 * Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/sqlite-active-table-variants.ts single|bulk [NORMAL|FULL]`.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const folder = mkdtempSync(join(tmpdir(), 'jobsmith-table-variants-'));
const cols40 = `seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, queue TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('scheduled','queued','running','completed','failed','cancelled')), payload TEXT NOT NULL, metadata TEXT NOT NULL, priority INTEGER NOT NULL, key TEXT, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, crashes INTEGER NOT NULL DEFAULT 0, backoff TEXT, timeout_ms INTEGER, keep_completed_ms INTEGER, keep_failed_ms INTEGER, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, result TEXT, error TEXT, progress TEXT, progress_history TEXT NOT NULL DEFAULT '[]', logs TEXT NOT NULL DEFAULT '[]', lease_token TEXT, lease_worker TEXT, lease_expires_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, expires_at INTEGER, failed_hook TEXT, settled_token TEXT, attempt_history TEXT, attempt_history_dropped INTEGER NOT NULL DEFAULT 0, flow_id TEXT, has_parents INTEGER NOT NULL DEFAULT 0, total_children INTEGER NOT NULL DEFAULT 0, pending_children INTEGER NOT NULL DEFAULT 0, run_if TEXT`;
const partials = (t: string, st: (s: string) => string) => `CREATE INDEX ${t}_ready ON ${t} (queue, priority DESC, run_at, seq) WHERE state = ${st('queued')};
CREATE INDEX ${t}_scheduled ON ${t} (run_at) WHERE state = ${st('scheduled')};
CREATE INDEX ${t}_running ON ${t} (lease_expires_at) WHERE state = ${st('running')};
CREATE UNIQUE INDEX ${t}_key ON ${t} (name, key) WHERE key IS NOT NULL AND state IN (${st('scheduled')},${st('queued')},${st('running')});
CREATE INDEX ${t}_hook ON ${t} (lease_expires_at) WHERE failed_hook = 'pending';
CREATE INDEX ${t}_flow ON ${t} (flow_id) WHERE flow_id IS NOT NULL;`;
const txt = (s: string) => `'${s}'`; const num = (s: string) => String(['scheduled','queued','running'].indexOf(s));
const variants: Record<string, { ddl: string; insert: string; row: (i: number, now: number) => unknown[] }> = {
  today: { ddl: `CREATE TABLE j (${cols40}); ${partials('j', txt)}`,
    insert: `INSERT OR IGNORE INTO j (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    row: (i, now) => [uuid7(now), 'bench.noop', 'default', 'queued', `{"index":${i},"sentAt":0}`, '{}', 0, null, 3, null, null, 86400000, 1209600000, now, now] },
  lean: { ddl: `CREATE TABLE j (${cols40.replace(`state TEXT NOT NULL CHECK (state IN ('scheduled','queued','running','completed','failed','cancelled'))`, 'state INTEGER NOT NULL').replace(`progress_history TEXT NOT NULL DEFAULT '[]', logs TEXT NOT NULL DEFAULT '[]'`, 'progress_history TEXT, logs TEXT').replace("metadata TEXT NOT NULL", "metadata TEXT")}); ${partials('j', num)}`,
    insert: `INSERT OR IGNORE INTO j (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    row: (i, now) => [uuid7(now), 'bench.noop', 'default', 1, `{"index":${i},"sentAt":0}`, null, 0, null, 3, null, null, null, null, now, now] },
  norowid: { ddl: `CREATE TABLE j (${cols40.replace('seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE', 'seq INTEGER NOT NULL, id TEXT PRIMARY KEY').replace(`state TEXT NOT NULL CHECK (state IN ('scheduled','queued','running','completed','failed','cancelled'))`, 'state INTEGER NOT NULL').replace(`progress_history TEXT NOT NULL DEFAULT '[]', logs TEXT NOT NULL DEFAULT '[]'`, 'progress_history TEXT, logs TEXT').replace("metadata TEXT NOT NULL", "metadata TEXT")}) WITHOUT ROWID; ${partials('j', num)}`,
    insert: `INSERT OR IGNORE INTO j (seq, id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    row: (i, now) => [i, uuid7(now), 'bench.noop', 'default', 1, `{"index":${i},"sentAt":0}`, null, 0, null, 3, null, null, null, null, now, now] },
  plainjob: { ddl: `CREATE TABLE j (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, status INTEGER DEFAULT 0 NOT NULL, failed_at INTEGER, error TEXT, next_run_at INTEGER, created_at INTEGER NOT NULL); CREATE INDEX j_s ON j (status, type, next_run_at);`,
    insert: `INSERT INTO j (type, data, created_at, next_run_at) VALUES (?,?,?,?)`, row: (i, now) => ['bench.noop', `{"index":${i},"sentAt":0}`, now, now] },
};
let counter = 0;
function uuid7(now: number) { const h = now.toString(16).padStart(12, '0'); const c = (counter++).toString(16).padStart(12, '0'); return `${h.slice(0,8)}-${h.slice(8)}-7000-8${c.slice(0,3)}-${c.slice(3)}aaa`.slice(0, 36); }
const mode = process.argv[2] ?? 'single'; const sync = process.argv[3] ?? 'NORMAL';
for (let rep = 0; rep < 2; rep++) for (const [name, v] of Object.entries(variants)) {
  const path = join(folder, `v-${name}.db`); for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
  const db = new Database(path, { timeout: 0 }); db.pragma('journal_mode = WAL'); db.pragma(`synchronous = ${sync}`); db.exec(v.ddl);
  const ins = db.prepare(v.insert); const n = mode === 'single' ? (sync === 'FULL' ? 3000 : 10000) : 100000;
  const c0 = process.cpuUsage(); const t0 = performance.now();
  if (mode === 'single') for (let i = 0; i < n; i++) ins.run(...v.row(i, Date.now()));
  else { const tx = db.transaction((rows: unknown[][]) => { for (const r of rows) ins.run(...r); }); for (let b = 0; b < n / 1000; b++) { const now = Date.now(); tx(Array.from({ length: 1000 }, (_, k) => v.row(b * 1000 + k, now))); } }
  const cpu = process.cpuUsage(c0); const wall = performance.now() - t0;
  db.pragma('wal_checkpoint(TRUNCATE)');
  console.log(mode, sync, name.padEnd(9), 'cpu µs', ((cpu.user + cpu.system) / n).toFixed(1), 'wall µs', (wall * 1000 / n).toFixed(1), 'bytes/job', (statSync(path).size / n).toFixed(0));
  db.close();
}
rmSync(folder, { recursive: true, force: true });
