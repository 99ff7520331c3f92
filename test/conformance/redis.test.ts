import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { runBackendConformance } from '../../src/testing/conformance/index.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';

const servers = requireServers('redis');

describe.skipIf(servers.skip)('redis', () => {
  let server: RedisServer;
  let prefixes = 0;

  beforeAll(async () => {
    server = await startRedis();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  runBackendConformance({
    name: 'redis (a real server, a fresh key prefix per test)',
    makeBackend: (clock) => ({
      // A prefix per test isolates them on one server; each prefix is its own hash-tag slot.
      backend: new RedisBackend({ url: server.url, prefix: `conformance-${process.pid}-${++prefixes}`, clock, onWarning: () => {} }),
    }),
  });
});
