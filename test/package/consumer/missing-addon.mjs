// Run with better-sqlite3's native addon moved away, as when npm skipped its install script:
// the first call that opens the SQLite file must say what to run, with BackendUnavailableError.
// Prints one JSON line.
import { createClient } from 'jobsmith';

const client = createClient({ backend: 'sqlite:./missing-addon.db', jobs: [] });
try {
  await client.stats();
  console.log(JSON.stringify({ error: null }));
} catch (error) {
  console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message, cause: error.cause?.message?.split('\n')[0] }));
} finally {
  await client.close().catch(() => {});
}
