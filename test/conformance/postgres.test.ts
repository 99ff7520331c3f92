import { afterAll, beforeAll, describe } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { runBackendConformance } from '../../src/testing/conformance/index.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

describe.skipIf(servers.skip)('postgres', () => {
  let server: PostgresServer;
  let schemas = 0;

  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  runBackendConformance({
    name: 'postgres (a real server, a fresh schema per test)',
    makeBackend: (clock) => {
      // A schema per test isolates them on one server without the cost of a database each.
      const schema = `conformance_${process.pid}_${++schemas}`;
      return {
        backend: new PostgresBackend({ connectionString: server.url, schema, clock, poolSize: 8 }),
        cleanup: async () => {
          await server.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    },
  });
});
